//! Autotuning: time each kernel variant on a problem of the real shape (trimmed to a work
//! budget), keep the fastest, and remember it in the adapter's tuning table (`gpu::tuning`).
//!
//! Bounded so that a first use never stalls for long: each candidate is compiled on a tiny
//! problem, timed once on the trimmed one, and timed a second time only if it is within reach of
//! the best; a candidate that cannot run (a limit) is skipped.

use std::collections::BTreeMap;
use web_time::Instant;

use crate::gpu::{Gpu, GpuError, Tuned};

/// Floating-point work of one timed trial: about 70 ms for the slowest variant on lavapipe,
/// and on a GPU large enough that launch overhead does not decide.
pub(crate) fn trial_flops(gpu: &Gpu) -> u64 {
    if gpu.is_cpu() {
        1 << 26
    } else {
        1 << 34
    }
}

/// One candidate: its name, a run on a tiny problem (compiles the pipelines) and a run on the
/// trial problem.
pub(crate) struct Candidate<'a> {
    pub name: &'static str,
    pub warm: Box<dyn FnMut() -> Result<(), GpuError> + 'a>,
    pub run: Box<dyn FnMut() -> Result<(), GpuError> + 'a>,
}

fn time_ms(gpu: &Gpu, run: &mut dyn FnMut() -> Result<(), GpuError>) -> Result<f64, GpuError> {
    gpu.sync()?;
    let t0 = Instant::now();
    run()?;
    gpu.sync()?;
    Ok(t0.elapsed().as_secs_f64() * 1e3)
}

/// Times the candidates and records the winner under `key`. Errors only if none can run or the
/// device fails; a candidate's own error (a limit it exceeds) just rules it out.
pub(crate) fn pick(gpu: &Gpu, key: &str, candidates: Vec<Candidate>) -> Result<String, GpuError> {
    let mut ms = BTreeMap::new();
    let mut best: Option<(&'static str, f64)> = None;
    let mut first_err = None;
    for mut c in candidates {
        let trial = (|| -> Result<f64, GpuError> {
            (c.warm)()?;
            let t = time_ms(gpu, &mut c.run)?;
            // A second run only where it could change the decision (noise, first-run effects).
            if best.is_none_or(|(_, b)| t < 1.5 * b) {
                return Ok(t.min(time_ms(gpu, &mut c.run)?));
            }
            Ok(t)
        })();
        match trial {
            Ok(t) => {
                ms.insert(c.name.to_string(), Some(t));
                if best.is_none_or(|(_, b)| t < b) {
                    best = Some((c.name, t));
                }
            }
            Err(e) if e.is_fatal() => return Err(e),
            Err(e) => {
                ms.insert(c.name.to_string(), None);
                first_err.get_or_insert(e);
            }
        }
    }
    let Some((choice, _)) = best else {
        return Err(first_err.unwrap_or_else(|| GpuError::Unsupported(format!("{key}: no kernel variant to tune"))));
    };
    gpu.record_tuned(key, &Tuned { choice: choice.to_string(), ms });
    Ok(choice.to_string())
}
