//! Fine-tuning: the loop, evaluation, history, checkpoints and resume, export.
//!
//! A run folder holds `run.json` (what was asked), `examples.json` (the examples and each
//! epoch's batch order), `checkpoints/` (the latest state, written atomically at the end of
//! each epoch and on interruption, and `step-0`, the initial weights in the Hugging Face
//! layout), `history.json`/`history.csv`, and `model/` (the exported model). Steps are deterministic for a seed — data order per epoch and
//! dropout masks per step derive from it — so a resumed run reaches the same parameters.

pub mod export;
pub mod history;
// Runs from files on disk (the CLI's `train`, `eval`, `export`); a browser hands bytes instead.
#[cfg(not(target_arch = "wasm32"))]
pub mod job;
pub mod metrics;
#[cfg(not(target_arch = "wasm32"))]
pub mod plot;
pub mod split;
mod state;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use web_time::Instant;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::autograd::Tape;
use crate::gpu::{Gpu, PendingRead};
use crate::infer::{logits_async, make_batch, predictions, Encoded};
use crate::model::{BertClassifier, Dropouts, Rows};
use crate::ops::adamw::control;
use crate::optim::{AdamW, AdamWConfig, LossScale, WarmupLinear, MAX_SKIPPED_IN_A_ROW};

pub use history::{EpochRow, History};
pub use metrics::EvalReport;
pub use state::{load_state, save_state, Position};

/// The seed tutorial's defaults.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TrainOptions {
    pub epochs: usize,
    pub batch_size: usize,
    pub max_len: usize,
    pub lr: f32,
    pub warmup_fraction: f32,
    /// Dropout everywhere (hidden states, attention probabilities, before the head); None:
    /// the model's own config.json values (`hidden_dropout_prob`, `attention_probs_dropout_prob`,
    /// `classifier_dropout`), as transformers trains it.
    #[serde(default)]
    pub dropout: Option<f32>,
    pub weight_decay: f32,
    pub max_grad_norm: f32,
    pub seed: u64,
    /// Also save a checkpoint every N steps (besides each epoch's end and Ctrl-C).
    #[serde(default)]
    pub checkpoint_every: Option<usize>,
    /// f32 throughout, or mixed: the linear layers' products read f16 (see `Tape::mixed`).
    #[serde(default)]
    pub precision: Precision,
    /// The first loss scale of mixed precision (GradScaler's init_scale).
    #[serde(default = "default_loss_scale")]
    pub loss_scale: f32,
    /// What the classification head reads: the pooler output (BERT's), [CLS]'s last hidden
    /// state, or the mean of the tokens' (the pooling sentence-transformers models learned).
    #[serde(default)]
    pub pool: crate::model::Pooling,
    /// Freeze the embeddings and the first N encoder layers (0: train everything).
    #[serde(default)]
    pub freeze_layers: usize,
}

fn default_loss_scale() -> f32 {
    65536.0
}

/// The arithmetic of a training step.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "wasm32"), derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in f32.
    #[default]
    F32,
    /// f16 operands with f32 accumulation in the linear layers, f32 master weights and
    /// everything else in f32, dynamic loss scaling. Needs an adapter with shader-f16.
    Mixed,
}

/// Whether `gpu` can train in `precision`: mixed needs shader-f16 (refused with the reason).
pub fn check_precision(gpu: &Gpu, precision: Precision) -> Result<()> {
    if precision == Precision::Mixed {
        crate::ops::matmul::Operands::F16.check_supported(gpu)?;
    }
    Ok(())
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 5,
            batch_size: 32,
            max_len: 128,
            lr: 3e-5,
            warmup_fraction: 0.1,
            dropout: None,
            weight_decay: 0.01,
            max_grad_norm: 1.0,
            seed: 42,
            checkpoint_every: None,
            precision: Precision::F32,
            loss_scale: default_loss_scale(),
            pool: crate::model::Pooling::Pooler,
            freeze_layers: 0,
        }
    }
}

impl TrainOptions {
    /// The dropout probabilities of a training step: `dropout` everywhere, or the config's.
    pub fn dropouts(&self, config: &crate::checkpoint::BertConfig) -> Dropouts {
        match self.dropout {
            Some(p) => Dropouts { hidden: p, attention: p, classifier: p },
            None => Dropouts {
                hidden: config.hidden_dropout_prob,
                attention: config.attention_probs_dropout_prob,
                classifier: config.classifier_dropout.unwrap_or(config.hidden_dropout_prob),
            },
        }
    }
}

/// Refuses options no run can use with a model of `config` (the CLI's flags name them).
pub fn check_options(o: &TrainOptions, config: &crate::checkpoint::BertConfig) -> Result<()> {
    if o.max_len > config.max_position_embeddings {
        bail!(
            "--max-len {} exceeds the model's max_position_embeddings ({})",
            o.max_len,
            config.max_position_embeddings
        );
    }
    if o.max_len < 2 {
        bail!("--max-len {} leaves no room for a token between [CLS] and [SEP]", o.max_len);
    }
    if o.batch_size == 0 || o.epochs == 0 {
        bail!("batch size and epochs must be at least 1");
    }
    if !(o.lr.is_finite() && o.lr > 0.0) {
        bail!("--lr {} must be a positive number", o.lr);
    }
    if let Some(p) = o.dropout {
        if !(0.0..1.0).contains(&p) {
            bail!("--dropout {p} must be at least 0 and below 1");
        }
    }
    if !(0.0..=1.0).contains(&o.warmup_fraction) {
        bail!("--warmup {} must be a fraction of the steps, from 0 to 1", o.warmup_fraction);
    }
    if !(o.weight_decay.is_finite() && o.weight_decay >= 0.0) {
        bail!("--weight-decay {} must be a number of at least 0", o.weight_decay);
    }
    if !(o.loss_scale.is_finite() && o.loss_scale > 0.0) {
        bail!("--loss-scale must be a positive number, not {}", o.loss_scale);
    }
    Ok(())
}

/// What the loop tells its caller (the CLI draws progress bars from these).
pub enum Event<'a> {
    EpochStart {
        epoch: usize,
        steps: usize,
    },
    /// `loss` and `accuracy` are the epoch's running means; `batch_loss` is this step's alone.
    Step {
        epoch: usize,
        step: usize,
        steps: usize,
        loss: f64,
        accuracy: f64,
        batch_loss: f64,
    },
    EpochEnd(&'a EpochRow),
    Saved {
        step: u64,
    },
    /// Something the user should know (printed and logged).
    Notice(String),
    /// Scoring a held-out set ("validation" after each epoch, "test" after training): `done`
    /// of `total` examples so far.
    Scoring {
        set: &'static str,
        done: usize,
        total: usize,
    },
}

/// Why `train` returned.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Finished,
    /// Interrupted (Ctrl-C); the state was saved at this global step.
    Interrupted {
        step: u64,
    },
}

/// Inference over a whole set: the report and every example's (class, score).
#[cfg(not(target_arch = "wasm32"))]
pub fn evaluate(
    gpu: &Arc<Gpu>,
    model: &BertClassifier,
    enc: &Encoded,
    classes: &[String],
    batch_size: usize,
    pad_id: u32,
    progress: impl FnMut(usize),
) -> Result<(EvalReport, Vec<(usize, f32)>)> {
    pollster::block_on(evaluate_async(gpu, model, enc, classes, batch_size, pad_id, progress))
}

/// `evaluate`, awaiting each batch's read-back (the browser cannot block on one). The logits
/// come from `logits_async`'s length-sorted batches; the loss is taken from them in f64.
pub async fn evaluate_async(
    gpu: &Arc<Gpu>,
    model: &BertClassifier,
    enc: &Encoded,
    classes: &[String],
    batch_size: usize,
    pad_id: u32,
    progress: impl FnMut(usize),
) -> Result<(EvalReport, Vec<(usize, f32)>)> {
    let logits = logits_async(gpu, model, enc, pad_id, batch_size, progress).await?;
    let z: Vec<f64> = logits.iter().map(|&v| v as f64).collect();
    let y: Vec<f64> = enc.labels.iter().map(|&l| l as f64).collect();
    let loss_sum = match enc.len() {
        0 => 0.0,
        n => crate::reference::loss::loss(&z, &y, model.num_labels).0 * n as f64,
    };
    let preds = predictions(&logits, model.num_labels);
    let predicted: Vec<usize> = preds.iter().map(|p| p.0).collect();
    Ok((EvalReport::new(classes, &enc.labels, &predicted, loss_sum), preds))
}

/// The folder under `checkpoints/` that holds a run's initial weights in the Hugging Face layout.
pub const INITIAL_CHECKPOINT: &str = "step-0";

/// The order of the training examples in `epoch` (seeded, different every epoch).
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    crate::data::sample::shuffle(&mut v, seed ^ (0x9E37_79B9 * (epoch as u64 + 1)));
    v
}

/// A training step submitted to the GPU whose loss is not read yet (`Trainer::submit`).
pub struct Submitted {
    read: PendingRead,
}

pub struct Trainer<'a> {
    pub gpu: Arc<Gpu>,
    pub model: &'a BertClassifier,
    pub opts: TrainOptions,
    pub opt: AdamW,
    pub schedule: WarmupLinear,
    pub history: History,
    pub pos: Position,
    pub pad_id: u32,
    /// Mixed precision's loss scale; None in f32.
    pub loss_scale: Option<LossScale>,
    /// The encoder's rows a step computes: [CLS]'s alone in the last layer (what a classifier
    /// needs), or every token's (`wgbert bench train --full-last-layer` compares the two).
    pub rows: Rows,
}

impl<'a> Trainer<'a> {
    pub fn new(
        gpu: &Arc<Gpu>,
        model: &'a BertClassifier,
        opts: TrainOptions,
        train_len: usize,
        pad_id: u32,
    ) -> Result<Trainer<'a>> {
        if train_len == 0 {
            bail!("no training examples");
        }
        let loss_scale = match opts.precision {
            Precision::F32 => None,
            Precision::Mixed => {
                check_precision(gpu, Precision::Mixed)?;
                if !(opts.loss_scale.is_finite() && opts.loss_scale > 0.0) {
                    bail!("--loss-scale must be a positive number, not {}", opts.loss_scale);
                }
                Some(LossScale::new(opts.loss_scale))
            }
        };
        let cfg = AdamWConfig {
            weight_decay: opts.weight_decay,
            max_grad_norm: opts.max_grad_norm,
            ..AdamWConfig::default()
        };
        let steps = (train_len.div_ceil(opts.batch_size) * opts.epochs) as u32;
        let mut opt = AdamW::new(gpu, &model.params, cfg)?;
        if let Some(ls) = &loss_scale {
            opt.scale_loss(gpu, ls)?;
        }
        Ok(Trainer {
            gpu: gpu.clone(),
            model,
            schedule: WarmupLinear::new(opts.lr, steps, opts.warmup_fraction),
            opt,
            opts,
            history: History::default(),
            pos: Position::default(),
            pad_id,
            loss_scale,
            rows: Rows::Cls,
        })
    }

    /// One optimizer step on `rows` of `enc`: returns (loss, correct). What `train` runs per
    /// batch, and what `wgbert bench train` times.
    pub async fn step(&mut self, enc: &Encoded, rows: &[usize]) -> Result<(f64, f64)> {
        let submitted = self.submit(enc, rows, self.pos.global_step)?;
        self.finish(submitted).await
    }

    /// Whether the next step is submitted before this one's loss is read: what a step takes
    /// from the one before (its parameters, the optimizer's step count, the loss scale and its
    /// skip decision) stays on the GPU, whose queue orders it; on adapters that queue work
    /// (`Gpu::queues_work`: GPUs).
    pub fn pipelines(&self) -> bool {
        self.gpu.queues_work()
    }

    /// The first half of `step`: records global step `global_step` (its dropout seed and
    /// learning rate) and submits it with the read-back of its loss, without waiting.
    pub fn submit(&mut self, enc: &Encoded, rows: &[usize], global_step: u64) -> Result<Submitted> {
        let m = self.model;
        let batch = make_batch(&self.gpu, enc, rows, self.pad_id, m.config.vocab_size, m.config.type_vocab_size)?;
        m.params.zero_grad(&self.gpu)?;
        let seed = crate::reference::elementwise::pcg(
            (self.opts.seed as u32) ^ crate::reference::elementwise::pcg(global_step as u32),
        );
        let mut tape = match self.loss_scale {
            None => Tape::new(&self.gpu, seed),
            Some(_) => Tape::mixed(&self.gpu, seed, &self.opt.control),
        };
        let logits = m.forward_rows(&mut tape, &batch.tokens, &batch.mask, self.opts.dropouts(&m.config), self.rows)?;
        let metrics = tape.loss(&logits, &batch.labels, 1.0)?;
        drop(logits);
        tape.backward()?;
        let lr = self.schedule.lr(global_step as u32);
        self.opt.update(&self.gpu, &m.params, lr)?;
        // The step's one read-back: the loss and accuracy, with the optimizer's control words
        // as this step left them (its skip flag, the loss scale).
        Ok(Submitted { read: self.gpu.start_read(&[&metrics, &self.opt.control])? })
    }

    /// The second half of `step`: waits for its loss and accuracy; in mixed precision takes
    /// the loss scale as the step left it.
    pub async fn finish(&mut self, submitted: Submitted) -> Result<(f64, f64)> {
        let mut read = self.gpu.finish_read(submitted.read).await?;
        let words: Vec<u32> = bytemuck::pod_collect_to_vec(&read.pop().unwrap_or_default());
        let v: Vec<f32> = bytemuck::pod_collect_to_vec(&read.pop().unwrap_or_default());
        if v.len() < 2 || words.len() != control::WORDS {
            bail!("the step's loss came back with {} values, not 2, and {} control words", v.len(), words.len());
        }
        if let Some(ls) = &mut self.loss_scale {
            ls.observe(&words);
            if ls.skipped_in_a_row >= MAX_SKIPPED_IN_A_ROW {
                bail!(
                    "mixed precision: the gradients overflowed f16 in {} steps in a row (loss scale now {:e}); the run stops, the last saved checkpoint is kept; try --precision f32",
                    ls.skipped_in_a_row,
                    ls.scale
                );
            }
        }
        Ok((v[0] as f64, v[1] as f64))
    }

    /// Saves the state in the middle of an epoch begun at `t0`: the saved position counts the
    /// epoch's seconds so far (a resumed run adds its own), the running one keeps counting from `t0`.
    /// Nothing without a run folder.
    fn save_mid_epoch(&mut self, run_dir: Option<&std::path::Path>, t0: Instant) -> Result<()> {
        let Some(run_dir) = run_dir else { return Ok(()) };
        let before = self.pos.epoch_seconds;
        self.pos.epoch_seconds += t0.elapsed().as_secs_f64();
        let saved = save_state(run_dir, self);
        self.pos.epoch_seconds = before;
        saved
    }

    /// Trains from the current position to the last epoch, saving state in `run_dir` (when
    /// there is one) after each epoch and when `interrupt` is set. A non-finite loss stops the
    /// run with an error and leaves the last saved state untouched.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn train(
        &mut self,
        run_dir: Option<&std::path::Path>,
        train: &Encoded,
        val: Option<(&Encoded, &[String])>,
        interrupt: &AtomicBool,
        event: impl FnMut(Event),
    ) -> Result<Outcome> {
        pollster::block_on(self.train_async(run_dir, train, val, interrupt, event))
    }

    /// `train`, awaiting each step's read-back: one loop for both targets (natively the
    /// read-back is ready when first polled; in a browser each step yields to the page, and
    /// there is no run folder: `run_dir` None keeps everything in memory, `self.history`).
    pub async fn train_async(
        &mut self,
        run_dir: Option<&std::path::Path>,
        train: &Encoded,
        val: Option<(&Encoded, &[String])>,
        interrupt: &AtomicBool,
        mut event: impl FnMut(Event),
    ) -> Result<Outcome> {
        let bs = self.opts.batch_size;
        let steps = train.len().div_ceil(bs);
        while self.pos.epoch < self.opts.epochs {
            let epoch = self.pos.epoch;
            let order = epoch_order(train.len(), self.opts.seed, epoch);
            let t0 = Instant::now();
            event(Event::EpochStart { epoch, steps });
            let batch_rows = |s: usize| &order[s * bs..((s + 1) * bs).min(train.len())];
            let every = self.opts.checkpoint_every.unwrap_or(0);
            // The step submitted whose loss is unread. Where the trainer pipelines, the next
            // step is submitted before that loss is read, so the GPU does not wait for the host
            // between steps; not where something must come between the two (a checkpoint after
            // this step, an interrupt, the epoch's end).
            let mut inflight: Option<Submitted> = None;
            while self.pos.step_in_epoch < steps {
                let s = self.pos.step_in_epoch;
                let current = match inflight.take() {
                    Some(c) => c,
                    None => {
                        if interrupt.load(Ordering::SeqCst) {
                            self.save_mid_epoch(run_dir, t0)?;
                            if run_dir.is_some() {
                                event(Event::Saved { step: self.pos.global_step });
                            }
                            return Ok(Outcome::Interrupted { step: self.pos.global_step });
                        }
                        self.submit(train, batch_rows(s), self.pos.global_step)?
                    }
                };
                let done = self.pos.global_step + 1;
                let saves_after = every > 0 && run_dir.is_some() && done.is_multiple_of(every as u64);
                if self.pipelines() && s + 1 < steps && !saves_after && !interrupt.load(Ordering::SeqCst) {
                    inflight = Some(self.submit(train, batch_rows(s + 1), done)?);
                }
                let rows = batch_rows(s);
                let (loss, correct) = self.finish(current).await?;
                if !loss.is_finite() {
                    bail!("the loss became {loss} at step {} (epoch {}, batch {}); the run stops, the last saved checkpoint is kept", self.pos.global_step + 1, epoch + 1, s + 1);
                }
                self.pos.global_step += 1;
                self.pos.step_in_epoch += 1;
                self.pos.loss_sum += loss * rows.len() as f64;
                self.pos.correct += correct;
                self.pos.seen += rows.len();
                self.history.steps.push((self.pos.global_step, loss));
                // The epoch's last step is saved by the epoch's end, below.
                if saves_after && self.pos.step_in_epoch < steps {
                    self.save_mid_epoch(run_dir, t0)?;
                    event(Event::Saved { step: self.pos.global_step });
                }
                let seen = self.pos.seen.max(1) as f64;
                event(Event::Step {
                    epoch,
                    step: s + 1,
                    steps,
                    loss: self.pos.loss_sum / seen,
                    accuracy: self.pos.correct / seen,
                    batch_loss: loss,
                });
            }
            let seen = self.pos.seen.max(1) as f64;
            let mut row = EpochRow {
                epoch: epoch + 1,
                loss: self.pos.loss_sum / seen,
                accuracy: self.pos.correct / seen,
                val_loss: None,
                val_accuracy: None,
                seconds: 0.0,
            };
            if let Some((v, classes)) = val {
                let total = v.len();
                let progress = |done| event(Event::Scoring { set: "validation", done, total });
                let (r, _) = evaluate_async(&self.gpu, self.model, v, classes, bs, self.pad_id, progress).await?;
                row.val_loss = Some(r.loss);
                row.val_accuracy = Some(r.accuracy);
            }
            row.seconds = self.pos.epoch_seconds + t0.elapsed().as_secs_f64();
            self.history.epochs.push(row.clone());
            if let Some(ls) = &self.loss_scale {
                event(Event::Notice(format!(
                    "mixed precision: loss scale {}, {} of {} steps skipped so far (gradient overflow in f16)",
                    ls.scale, ls.skipped, self.pos.global_step
                )));
            }
            self.pos = Position { epoch: epoch + 1, global_step: self.pos.global_step, ..Position::default() };
            if let Some(run_dir) = run_dir {
                save_state(run_dir, self)?;
                self.history.save(run_dir)?;
                #[cfg(not(target_arch = "wasm32"))] // plotters is native only; the page draws its own curves
                plot::save_curves(&self.history, &run_dir.join("curves.png"))?;
            }
            event(Event::EpochEnd(&row));
            if run_dir.is_some() {
                event(Event::Saved { step: self.pos.global_step });
            }
        }
        Ok(Outcome::Finished)
    }
}
