//! A whole fine-tuning job as `wgbert train` runs it: data, split, samples, tokenizer, model,
//! training, test evaluation, export. Saved as `run.json` so `--resume` repeats it exactly.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

pub use super::split::{align_classes, split_data, JobData, Split};
use super::{evaluate, export, load_state, EvalReport, Event, Outcome, TrainOptions, Trainer};
use crate::data::{self, Columns, Dataset};
use crate::gpu::Gpu;
use crate::infer::Encoded;
use crate::model::{BertClassifier, Head};
use crate::tokenizer::Tokenizer;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TrainJob {
    pub model: PathBuf,
    pub data: PathBuf,
    /// Test data for CSV/JSONL training files (IMDB layouts carry their own test split).
    pub test_data: Option<PathBuf>,
    pub text_column: String,
    pub label_column: String,
    /// The second text of sentence pairs (absent: single texts).
    #[serde(default)]
    pub text_pair_column: Option<String>,
    pub limit_train: Option<usize>,
    pub limit_test: Option<usize>,
    pub validation_fraction: f32,
    pub options: TrainOptions,
}

impl TrainJob {
    pub fn new(model: PathBuf, data: PathBuf) -> TrainJob {
        TrainJob {
            model,
            data,
            test_data: None,
            text_column: "text".into(),
            label_column: "label".into(),
            text_pair_column: None,
            limit_train: None,
            limit_test: None,
            validation_fraction: 0.2,
            options: TrainOptions::default(),
        }
    }

    /// The job of the run in `run_dir` (its run.json), to resume with the settings it began with.
    pub fn of_run(run_dir: &Path) -> Result<TrainJob> {
        let path = run_dir.join("run.json");
        let bytes =
            std::fs::read(&path).with_context(|| format!("{}: not a run folder (no run.json)", run_dir.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("{}: not a run description", path.display()))
    }

    fn columns(&self) -> Columns {
        Columns {
            text: self.text_column.clone(),
            label: self.label_column.clone(),
            pair: self.text_pair_column.clone(),
        }
    }
}

pub fn load_job_data(job: &TrainJob) -> Result<JobData> {
    let cols = job.columns();
    let all = data::load(&job.data, "train", &cols)?;
    let test_path = job.test_data.clone().or_else(|| (!is_table(&job.data)).then(|| job.data.clone()));
    let test = match test_path {
        Some(p) => Some((data::load(&p, "test", &cols)?, p)),
        None => None,
    };
    let split = Split {
        validation_fraction: job.validation_fraction,
        limit_train: job.limit_train,
        limit_test: job.limit_test,
        seed: job.options.seed,
    };
    split_data(all, &job.data, test, &split)
}

/// Which examples a run trains, validates and tests on, by source (file, archive member or
/// file:line) and label, and each epoch's batch order (`"order"`: per epoch, indices into
/// `"train"` in the order the batches take them), so that a run can be audited or replayed
/// step for step by another tool (tools/pytorch/replay_torch.py).
fn examples_json(d: &JobData, options: &TrainOptions) -> Result<Vec<u8>> {
    let list = |set: &Dataset| -> Vec<serde_json::Value> {
        set.examples.iter().map(|e| serde_json::json!({"source": e.source, "label": d.classes[e.label]})).collect()
    };
    let doc = serde_json::json!({
        "classes": d.classes,
        "train": list(&d.train),
        "validation": list(&d.validation),
        "test": d.test.as_ref().map(list),
        "order": (0..options.epochs).map(|e| super::epoch_order(d.train.len(), options.seed, e)).collect::<Vec<_>>(),
        "texts_fnv1a": format!("{:016x}", texts_fingerprint(d)),
    });
    Ok(serde_json::to_vec(&doc)?)
}

/// Whether the examples.json at `path` lists `now`'s examples (a run written before the texts'
/// fingerprint existed is compared without it).
fn same_examples(path: &Path, now: &[u8]) -> bool {
    let parse = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b).ok();
    let (Some(before), Some(mut now)) = (std::fs::read(path).ok().as_deref().and_then(parse), parse(now)) else {
        return false;
    };
    if before.get("texts_fnv1a").is_none() {
        now.as_object_mut().map(|o| o.remove("texts_fnv1a"));
    }
    before == now
}

/// FNV-1a (64-bit) over every example's texts in order: a resumed run checks that its files
/// still hold the texts it began with (sources and labels alone would not show an edit).
fn texts_fingerprint(d: &JobData) -> u64 {
    let sets = [Some(&d.train), Some(&d.validation), d.test.as_ref()];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for e in sets.into_iter().flatten().flat_map(|s| &s.examples) {
        for part in [e.text.as_bytes(), b"\0", e.pair.as_deref().unwrap_or("").as_bytes(), b"\0"] {
            for &byte in part {
                h = (h ^ byte as u64).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
    }
    h
}

fn is_table(p: &Path) -> bool {
    let s = p.to_string_lossy().to_ascii_lowercase();
    s.ends_with(".csv") || s.ends_with(".jsonl") || s.ends_with(".json")
}

#[derive(Debug)]
pub struct JobResult {
    pub outcome: Outcome,
    pub test: Option<EvalReport>,
}

/// Refuses to begin a new run in a folder that already holds one: it is resumed, or left alone.
pub fn check_new_run_dir(out: &Path) -> Result<()> {
    if out.join("checkpoints").join("latest").is_file() {
        bail!("{} already holds a run; continue it with --resume {0}, or choose another --out", out.display());
    }
    Ok(())
}

/// Runs (or, when `run_dir` holds a checkpoint, resumes) a job.
pub fn run_job(
    gpu: &Arc<Gpu>,
    job: &TrainJob,
    run_dir: &Path,
    interrupt: &AtomicBool,
    mut event: impl FnMut(Event),
    mut say: impl FnMut(&str),
) -> Result<JobResult> {
    // The model and the options first: they are quick to check, the data may take seconds.
    let (config, ckpt, notices) = crate::checkpoint::load_model_dir(&job.model)?;
    let o = &job.options;
    super::check_options(o, &config)?;
    let tok = Tokenizer::from_dir(&job.model)
        .with_context(|| format!("loading the tokenizer from {}", job.model.display()))?;
    if tok.vocab_size() > config.vocab_size {
        bail!(
            "{}: {} tokens, more than the model's vocab_size of {}: this vocabulary belongs to another model",
            tok.vocab_path().display(),
            tok.vocab_size(),
            config.vocab_size
        );
    }
    let d = load_job_data(job)?;
    let examples = examples_json(&d, o)?;
    // A resumed run must see the examples it began with, or its steps would mean other things.
    let resuming = run_dir.join("checkpoints").join("latest").is_file();
    if resuming && !same_examples(&run_dir.join("examples.json"), &examples) {
        bail!(
            "{}: the data changed since this run began ({} no longer gives the examples in examples.json); start a new run with --out",
            run_dir.display(),
            job.data.display()
        );
    }
    std::fs::create_dir_all(run_dir).with_context(|| format!("creating the run folder {}", run_dir.display()))?;
    crate::fsio::write_atomic(&run_dir.join("run.json"), &serde_json::to_vec_pretty(job)?)?;
    crate::fsio::write_atomic(&run_dir.join("classes.json"), &serde_json::to_vec(&d.classes)?)?;
    crate::fsio::write_atomic(&run_dir.join("examples.json"), &examples)?;
    for n in notices {
        say(&format!("notice: {n}"));
    }
    for n in tok.notices() {
        say(&format!("notice: {n}"));
    }
    for n in &d.notices {
        say(&format!("notice: {n}"));
    }
    let num_labels = if d.classes.len() == 2 { 1 } else { d.classes.len() };
    let mut model = BertClassifier::from_checkpoint(gpu, &config, &ckpt, Head::Train { num_labels, seed: o.seed })?;
    for part in model.fresh() {
        say(&format!("notice: a fresh {part}; it is initialised from --seed {} and trained", o.seed));
    }
    model.pooling = o.pool;
    model.text_pairs = job.text_pair_column.is_some();
    model.freeze_layers(o.freeze_layers)?;
    drop(ckpt);
    super::check_precision(gpu, o.precision)?;
    say(&format!(
        "data: {} training, {} validation, {} test examples; classes: {}",
        d.train.len(),
        d.validation.len(),
        d.test.as_ref().map_or(0, Dataset::len),
        d.classes.join(", ")
    ));
    let train = Encoded::new(&tok, &d.train, o.max_len);
    let val = Encoded::new(&tok, &d.validation, o.max_len);
    let full = train.ids.iter().chain(&val.ids).filter(|ids| ids.len() == o.max_len).count();
    if full > 0 {
        say(&format!(
            "notice: {full} of {} training and validation texts fill all {} tokens of --max-len (longer ones are truncated)",
            train.len() + val.len(),
            o.max_len
        ));
    }
    let pad = tok.pad_id();
    let mut trainer = Trainer::new(gpu, &model, o.clone(), train.len(), pad)?;
    // The weights the run starts from (the pretrained encoder and the fresh head), in the
    // Hugging Face layout: what a replay in another framework loads (`from_pretrained`).
    // A new run writes its own, over any left by an earlier run that failed in this folder.
    let step0 = run_dir.join("checkpoints").join(super::INITIAL_CHECKPOINT);
    if !resuming || !step0.join("model.safetensors").is_file() {
        export::export_model(&model, &d.classes, &job.model, &step0)?;
    }
    if load_state(run_dir, &mut trainer)? {
        say(&format!(
            "resuming {} at epoch {}, step {}",
            run_dir.display(),
            trainer.pos.epoch + 1,
            trainer.pos.global_step
        ));
    }
    let validation = (!val.is_empty()).then_some((&val, d.classes.as_slice()));
    let outcome = trainer.train(Some(run_dir), &train, validation, interrupt, &mut event)?;
    if outcome != Outcome::Finished {
        return Ok(JobResult { outcome, test: None });
    }
    export::export_model(&model, &d.classes, &job.model, &run_dir.join("model"))?;
    let test = match &d.test {
        Some(t) => {
            let enc = Encoded::new(&tok, t, o.max_len);
            let total = enc.len();
            let progress = |done| event(Event::Scoring { set: "test", done, total });
            let (report, _) = evaluate(gpu, &model, &enc, &d.classes, o.batch_size, pad, progress)?;
            crate::fsio::write_atomic(&run_dir.join("test.json"), &serde_json::to_vec_pretty(&report)?)?;
            Some(report)
        }
        None => None,
    };
    Ok(JobResult { outcome, test })
}

/// Exports the latest checkpoint of a run (finished or not) to `out` in the Hugging Face layout.
pub fn export_run(gpu: &Arc<Gpu>, run_dir: &Path, out: &Path) -> Result<()> {
    let read = |name: &str| {
        std::fs::read(run_dir.join(name))
            .with_context(|| format!("{}: not a run folder (no {name})", run_dir.display()))
    };
    let job: TrainJob = serde_json::from_slice(&read("run.json")?).context("reading run.json")?;
    let classes: Vec<String> = serde_json::from_slice(&read("classes.json")?).context("reading classes.json")?;
    let latest = String::from_utf8(read("checkpoints/latest")?)?;
    let (config, ckpt, _) = crate::checkpoint::load_model_dir(&job.model)?;
    let num_labels = if classes.len() == 2 { 1 } else { classes.len() };
    let mut model =
        BertClassifier::from_checkpoint(gpu, &config, &ckpt, Head::Train { num_labels, seed: job.options.seed })?;
    model.pooling = job.options.pool;
    model.text_pairs = job.text_pair_column.is_some();
    model.params.load(gpu, &run_dir.join("checkpoints").join(latest.trim()).join("params.safetensors"))?;
    export::export_model(&model, &classes, &job.model, out)
}
