//! `wgbert train`: fine-tune on a folder, tarball, CSV or JSONL; progress bars, a Keras-like
//! line per epoch, test figures at the end. `--resume RUN` continues an interrupted run.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::shared::GpuArgs;
use crate::gpu::Gpu;
use crate::train::job::{check_new_run_dir, run_job, TrainJob};
use crate::train::{Event, Outcome, Precision};

/// Every option but --resume: a run's settings. Absent ones take `TrainJob::new`'s and
/// `TrainOptions::default()`'s values (shown in brackets); a resumed run keeps its own.
#[derive(Args)]
pub struct TrainArgs {
    #[command(flatten)]
    gpu: GpuArgs,
    /// Pretrained model folder (config.json, vocab.txt or tokenizer.json, weights) [default: models/all-MiniLM-L6-v2].
    #[arg(long)]
    model: Option<PathBuf>,
    /// Training data: IMDB folder or tarball (train/ and test/), or a CSV / JSONL file.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Test data when --data is a CSV / JSONL file.
    #[arg(long)]
    test_data: Option<PathBuf>,
    /// The run folder: history, checkpoints, log, exported model.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the interrupted run in this folder, with its own settings and data.
    #[arg(long, conflicts_with_all = ["data", "out"])]
    resume: Option<PathBuf>,
    /// [default: 5]
    #[arg(long)]
    epochs: Option<usize>,
    /// [default: 32]
    #[arg(long)]
    batch_size: Option<usize>,
    /// Tokens per text, [CLS] and [SEP] included; longer texts are truncated [default: 128].
    #[arg(long)]
    max_len: Option<usize>,
    /// Peak learning rate of AdamW [default: 3e-5].
    #[arg(long)]
    lr: Option<f32>,
    /// Fraction of the steps spent warming the learning rate up [default: 0.1].
    #[arg(long)]
    warmup: Option<f32>,
    /// Dropout of hidden states, attention probabilities and the head's input [default: the
    /// model's config.json: hidden_dropout_prob, attention_probs_dropout_prob, classifier_dropout].
    #[arg(long)]
    dropout: Option<f32>,
    /// AdamW's decoupled weight decay [default: 0.01].
    #[arg(long)]
    weight_decay: Option<f32>,
    /// Seeds the split, the batch order, dropout and a fresh head [default: 42].
    #[arg(long)]
    seed: Option<u64>,
    /// f32, or mixed: f16 operands with f32 accumulation in the linear layers, f32 master weights,
    /// dynamic loss scaling (needs an adapter with shader-f16) [default: f32].
    #[arg(long, value_enum)]
    precision: Option<Precision>,
    /// First loss scale of --precision mixed (halved on overflow, doubled after 2000 clean
    /// steps) [default: 65536].
    #[arg(long)]
    loss_scale: Option<f32>,
    /// What the classification head reads: BERT's pooler output (as transformers'
    /// BertForSequenceClassification), [CLS]'s last hidden state, or the mean of the tokens'
    /// (what sentence-transformers models such as all-MiniLM-L6-v2 were trained for) [default: pooler].
    #[arg(long, value_enum)]
    pool: Option<crate::model::Pooling>,
    /// Freeze the embeddings and the first N encoder layers: they keep their pretrained
    /// weights and run as in inference (no dropout); the backward pass and the optimizer stop
    /// above them, so a step costs less. 0 trains every layer [default: 0].
    #[arg(long, value_name = "N")]
    freeze_layers: Option<usize>,
    /// Also save a checkpoint every N steps (one is always saved at each epoch's end and on Ctrl-C).
    #[arg(long, value_name = "N")]
    checkpoint_every: Option<usize>,
    /// Train on a seeded, class-balanced sample of N examples.
    #[arg(long)]
    limit_train: Option<usize>,
    /// Test on a seeded, class-balanced sample of N examples.
    #[arg(long)]
    limit_test: Option<usize>,
    /// [default: text]
    #[arg(long)]
    text_column: Option<String>,
    /// [default: label]
    #[arg(long)]
    label_column: Option<String>,
    /// Sentence pairs: the column (CSV) or field (JSONL) of each pair's second text, encoded
    /// `[CLS] text [SEP] pair [SEP]` with token types 0 and 1, the longer text truncated first.
    #[arg(long)]
    text_pair_column: Option<String>,
}

impl TrainArgs {
    /// The run settings given on the command line, by flag.
    fn settings_given(&self) -> Vec<&'static str> {
        let given = [
            ("--model", self.model.is_some()),
            ("--test-data", self.test_data.is_some()),
            ("--epochs", self.epochs.is_some()),
            ("--batch-size", self.batch_size.is_some()),
            ("--max-len", self.max_len.is_some()),
            ("--lr", self.lr.is_some()),
            ("--warmup", self.warmup.is_some()),
            ("--dropout", self.dropout.is_some()),
            ("--weight-decay", self.weight_decay.is_some()),
            ("--seed", self.seed.is_some()),
            ("--precision", self.precision.is_some()),
            ("--loss-scale", self.loss_scale.is_some()),
            ("--pool", self.pool.is_some()),
            ("--freeze-layers", self.freeze_layers.is_some()),
            ("--checkpoint-every", self.checkpoint_every.is_some()),
            ("--limit-train", self.limit_train.is_some()),
            ("--limit-test", self.limit_test.is_some()),
            ("--text-column", self.text_column.is_some()),
            ("--label-column", self.label_column.is_some()),
            ("--text-pair-column", self.text_pair_column.is_some()),
        ];
        given.into_iter().filter(|(_, g)| *g).map(|(f, _)| f).collect()
    }
}

fn job_of(a: &TrainArgs) -> anyhow::Result<(TrainJob, PathBuf)> {
    if let Some(run) = &a.resume {
        let given = a.settings_given();
        if !given.is_empty() {
            bail!(
                "--resume continues {} with the settings it began with; leave out {}",
                run.display(),
                given.join(", ")
            );
        }
        return Ok((TrainJob::of_run(run)?, run.clone()));
    }
    let (Some(data), Some(out)) = (&a.data, &a.out) else { bail!("give --data and --out (or --resume RUN)") };
    check_new_run_dir(out)?;
    let mut job = TrainJob::new(a.model.clone().unwrap_or_else(|| "models/all-MiniLM-L6-v2".into()), data.clone());
    job.test_data = a.test_data.clone();
    fn set<T: Clone>(slot: &mut T, given: &Option<T>) {
        if let Some(v) = given {
            *slot = v.clone();
        }
    }
    set(&mut job.text_column, &a.text_column);
    set(&mut job.label_column, &a.label_column);
    job.text_pair_column = a.text_pair_column.clone();
    job.limit_train = a.limit_train;
    job.limit_test = a.limit_test;
    let o = &mut job.options;
    set(&mut o.epochs, &a.epochs);
    set(&mut o.batch_size, &a.batch_size);
    set(&mut o.max_len, &a.max_len);
    set(&mut o.lr, &a.lr);
    set(&mut o.warmup_fraction, &a.warmup);
    o.dropout = a.dropout;
    set(&mut o.weight_decay, &a.weight_decay);
    set(&mut o.seed, &a.seed);
    o.checkpoint_every = a.checkpoint_every;
    set(&mut o.precision, &a.precision);
    set(&mut o.loss_scale, &a.loss_scale);
    set(&mut o.pool, &a.pool);
    set(&mut o.freeze_layers, &a.freeze_layers);
    Ok((job, out.clone()))
}

pub fn run(a: TrainArgs) -> anyhow::Result<()> {
    let (job, run_dir) = job_of(&a)?;
    let gpu = Gpu::new(&a.gpu.options())?;
    eprintln!("adapter: {} ({:?})", gpu.info().name, gpu.info().backend);
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    // First Ctrl-C (or SIGTERM): finish the step, save, exit; a read-back the GPU never
    // answers gives up (gpu::interrupt) and the run exits with that error. Second: exit at once.
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        crate::gpu::interrupt();
        eprintln!("\ninterrupted: saving a checkpoint after this step (Ctrl-C again to quit now)");
    })
    .context("installing the Ctrl-C handler")?;

    // What train.log gains from this run: written at the end, however the run ends.
    let log_lines = std::cell::RefCell::new(Vec::new());
    let mut bar: Option<ProgressBar> = None;
    let mut scoring: Option<ProgressBar> = None;
    let epochs = job.options.epochs;
    let style = ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} ({eta} left) {msg}")
        .expect("a valid template")
        .progress_chars("=> ");
    // Without a terminal (a log file, CI) the bar is hidden: a plain line every 30 s instead.
    let plain = !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut last_line = std::time::Instant::now();
    let mut epoch_start = std::time::Instant::now();
    let result = run_job(
        &gpu,
        &job,
        &run_dir,
        &interrupt,
        |e| match e {
            Event::EpochStart { epoch, steps } => {
                let b = ProgressBar::new(steps as u64)
                    .with_style(style.clone())
                    .with_prefix(format!("{}/{epochs}", epoch + 1));
                bar = Some(b);
                epoch_start = std::time::Instant::now();
            }
            Event::Step { epoch, step, steps, loss, accuracy, .. } => {
                if let Some(b) = &bar {
                    b.set_position(step as u64);
                    b.set_message(format!("loss {loss:.4} accuracy {accuracy:.4}"));
                }
                if plain && (last_line.elapsed().as_secs() >= 30 || step == 1) {
                    last_line = std::time::Instant::now();
                    let per = epoch_start.elapsed().as_secs_f64() / step as f64;
                    eprintln!(
                        "epoch {}/{epochs} step {step}/{steps} ({:.0}s left) loss {loss:.4} accuracy {accuracy:.4}",
                        epoch + 1,
                        per * (steps - step) as f64
                    );
                }
            }
            Event::EpochEnd(r) => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
                let val = match (r.val_loss, r.val_accuracy) {
                    (Some(l), Some(a)) => format!(" - val_loss: {l:.4} - val_accuracy: {a:.4}"),
                    _ => String::new(),
                };
                let line = format!(
                    "epoch {}/{epochs} - {:.0}s - loss: {:.4} - accuracy: {:.4}{val}",
                    r.epoch, r.seconds, r.loss, r.accuracy
                );
                println!("{line}");
                log_lines.borrow_mut().push(line);
            }
            Event::Scoring { set, done, total } => {
                // One bar at a time: the epoch's has reached its end when validation starts.
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
                let b = scoring.get_or_insert_with(|| super::shared::scoring_bar(total, &format!("scoring {set}")));
                b.set_position(done as u64);
                if plain && last_line.elapsed().as_secs() >= 30 {
                    last_line = std::time::Instant::now();
                    eprintln!("scoring the {set} set: {done}/{total}");
                }
                if done >= total {
                    if let Some(b) = scoring.take() {
                        b.finish_and_clear();
                    }
                }
            }
            Event::Saved { step } => log_lines.borrow_mut().push(format!("checkpoint saved at step {step}")),
            Event::Notice(n) => {
                eprintln!("{n}");
                log_lines.borrow_mut().push(n);
            }
        },
        |m| {
            eprintln!("{m}");
            log_lines.borrow_mut().push(m.to_string());
        },
    );
    if let Some(b) = bar.take() {
        b.abandon();
    }
    let mut log_lines = log_lines.into_inner();
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            // The reason stays with the run (its folder exists once the job has started).
            if run_dir.is_dir() {
                log_lines.push(format!("error: {e:#}"));
                append_log(&run_dir, &log_lines)?;
            }
            return Err(e);
        }
    };
    if let Outcome::Interrupted { step } = outcome.outcome {
        println!("saved at step {step}; continue with: wgbert train --resume {}", run_dir.display());
    } else if let Some(t) = &outcome.test {
        let line = format!("test - loss: {:.4} - accuracy: {:.4} ({} examples)", t.loss, t.accuracy, t.examples);
        println!("{line}");
        log_lines.push(line);
    }
    if outcome.outcome == Outcome::Finished {
        println!("model exported to {}", run_dir.join("model").display());
    }
    append_log(&run_dir, &log_lines)
}

/// Adds `lines` to the run's train.log.
fn append_log(run_dir: &std::path::Path, lines: &[String]) -> anyhow::Result<()> {
    let path = run_dir.join("train.log");
    let mut log = std::fs::read_to_string(&path).unwrap_or_default();
    for l in lines {
        log += l;
        log.push('\n');
    }
    crate::fsio::write_atomic(&path, log.as_bytes()).with_context(|| format!("writing {}", path.display()))
}
