//! `wgbert.train`: `wgbert train` from Python. The options arrive as JSON by their Python names
//! (the CLI's, `batch_size` for `--batch-size`) and are laid over `TrainJob::new`'s defaults, so
//! that the run folder's run.json is the one the CLI would write (and `wgbert train --resume`
//! continues it). Progress events go to a Python callable; Ctrl-C (or an exception raised by
//! the callable) stops the run after the step, saves a checkpoint, then reaches the caller.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::{Map, Value};
use wgbert::train::job::{check_new_run_dir, run_job, TrainJob};
use wgbert::train::{Event, Outcome};

use crate::errors::to_py;
use crate::gpu::open;

/// Options set on the job itself rather than on its `TrainOptions`.
const JOB_KEYS: [&str; 9] = [
    "model",
    "data",
    "test_data",
    "text_column",
    "label_column",
    "text_pair_column",
    "limit_train",
    "limit_test",
    "validation_fraction",
];

/// The job that `options` (a JSON object of Python names) describe, each checked alone so that
/// an error names its option.
fn job_of(options: &str) -> PyResult<TrainJob> {
    let given: Map<String, Value> =
        serde_json::from_str(options).map_err(|e| PyValueError::new_err(format!("options: {e}")))?;
    let defaults = TrainJob::new("models/all-MiniLM-L6-v2".into(), PathBuf::new());
    let mut job = serde_json::to_value(&defaults).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let option_keys: Vec<String> = job["options"].as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    for (name, value) in given {
        // The CLI's --warmup is the job's warmup_fraction.
        let field = if name == "warmup" { "warmup_fraction".to_string() } else { name.clone() };
        let slot = if JOB_KEYS.contains(&field.as_str()) {
            &mut job[&field]
        } else if option_keys.contains(&field) && name != "warmup_fraction" {
            &mut job["options"][&field]
        } else {
            let mut known: Vec<&str> = JOB_KEYS.to_vec();
            known.extend(option_keys.iter().map(|k| if k == "warmup_fraction" { "warmup" } else { k.as_str() }));
            known.sort();
            return Err(PyValueError::new_err(format!("unknown option {name:?}; options: {}", known.join(", "))));
        };
        *slot = value.clone();
        serde_json::from_value::<TrainJob>(job.clone())
            .map_err(|e| PyValueError::new_err(format!("{name}={value}: {e}")))?;
    }
    serde_json::from_value(job).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// An event as the dict the progress callable receives.
fn event_dict<'py>(py: Python<'py>, e: &Event) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match e {
        Event::EpochStart { epoch, steps } => {
            d.set_item("event", "epoch_start")?;
            d.set_item("epoch", epoch + 1)?;
            d.set_item("steps", steps)?;
        }
        Event::Step { epoch, step, steps, loss, accuracy, batch_loss } => {
            d.set_item("event", "step")?;
            d.set_item("epoch", epoch + 1)?;
            d.set_item("step", step)?;
            d.set_item("steps", steps)?;
            d.set_item("loss", loss)?;
            d.set_item("accuracy", accuracy)?;
            d.set_item("batch_loss", batch_loss)?;
        }
        Event::EpochEnd(r) => {
            d.set_item("event", "epoch_end")?;
            d.set_item("epoch", r.epoch)?;
            d.set_item("loss", r.loss)?;
            d.set_item("accuracy", r.accuracy)?;
            d.set_item("val_loss", r.val_loss)?;
            d.set_item("val_accuracy", r.val_accuracy)?;
            d.set_item("seconds", r.seconds)?;
        }
        Event::Saved { step } => {
            d.set_item("event", "saved")?;
            d.set_item("step", step)?;
        }
        Event::Notice(n) => {
            d.set_item("event", "notice")?;
            d.set_item("message", n)?;
        }
        Event::Scoring { set, done, total } => {
            d.set_item("event", "scoring")?;
            d.set_item("set", set)?;
            d.set_item("done", done)?;
            d.set_item("total", total)?;
        }
    }
    Ok(d)
}

/// Runs a job (`options` as JSON) into `out`, or resumes the run in `resume`; returns the run's
/// history and test report as JSON.
#[pyfunction]
#[pyo3(signature = (options, out=None, resume=None, progress=None, backend=None, adapter=None))]
pub fn train(
    py: Python<'_>,
    options: &str,
    out: Option<PathBuf>,
    resume: Option<PathBuf>,
    progress: Option<Py<PyAny>>,
    backend: Option<String>,
    adapter: Option<String>,
) -> PyResult<String> {
    let (job, run_dir) = match (resume, out) {
        (Some(run), None) => {
            if options != "{}" {
                return Err(PyValueError::new_err(format!(
                    "resume continues {} with the settings it began with; leave out the other options",
                    run.display()
                )));
            }
            (TrainJob::of_run(&run).map_err(to_py)?, run)
        }
        (None, Some(out)) => {
            let job = job_of(options)?;
            if job.data.as_os_str().is_empty() {
                return Err(PyValueError::new_err("give data= and out= (or resume=RUN)"));
            }
            check_new_run_dir(&out).map_err(to_py)?;
            (job, out)
        }
        (Some(_), Some(_)) => {
            return Err(PyValueError::new_err("give out= for a new run or resume= for an old one, not both"))
        }
        (None, None) => return Err(PyValueError::new_err("give data= and out= (or resume=RUN)")),
    };
    let interrupt = AtomicBool::new(false);
    // The first error of the callable (or Ctrl-C, seen between steps): it stops the run.
    let stopped: Mutex<Option<PyErr>> = Mutex::new(None);
    let tell = |e: &Event| {
        let r = Python::attach(|py| -> PyResult<()> {
            if let Some(f) = &progress {
                f.call1(py, (event_dict(py, e)?,))?;
            }
            py.check_signals()
        });
        if let Err(err) = r {
            stopped.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(err);
            interrupt.store(true, Ordering::SeqCst);
        }
    };
    let result = py.detach(|| {
        let gpu = open(backend, adapter)?;
        run_job(&gpu, &job, &run_dir, &interrupt, |e| tell(&e), |m| tell(&Event::Notice(m.to_string()))).map_err(to_py)
    });
    let result = result?;
    if let Some(err) = stopped.into_inner().unwrap_or_else(|p| p.into_inner()) {
        if let Outcome::Interrupted { step } = result.outcome {
            let saved =
                format!("saved at step {step}; continue with wgbert.train(resume={:?})", run_dir.display().to_string());
            if err.is_instance_of::<PyKeyboardInterrupt>(py) {
                return Err(PyKeyboardInterrupt::new_err(saved));
            }
            // Exceptions take notes from Python 3.11 on.
            if let Ok(add_note) = err.value(py).getattr("add_note") {
                add_note.call1((saved,))?;
            }
        }
        return Err(err);
    }
    let history: Value = std::fs::read(run_dir.join("history.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let doc = serde_json::json!({
        "history": history,
        "test": result.test,
        "run_dir": run_dir,
        "model_dir": run_dir.join("model"),
    });
    Ok(doc.to_string())
}
