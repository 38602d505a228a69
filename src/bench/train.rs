//! `wgbert bench train`: seconds per training step (forward + backward + AdamW) of a BERT
//! classifier on random tokens, inference sequences/s, peak GPU memory, and with `profile`, GPU
//! time per kernel family from timestamp queries.

use std::collections::BTreeMap;
use std::sync::Arc;
use web_time::Instant;

use serde::Serialize;

use super::stats::Spread;
use crate::autograd::Tape;
use crate::gpu::{Gpu, GpuError};
use crate::infer::Encoded;
use crate::model::{BertClassifier, Dropouts, Rows};
use crate::ops::embedding::TokenBatch;
use crate::train::{Precision, TrainOptions, Trainer};

#[derive(Clone, Debug)]
pub struct TrainBenchOptions {
    pub batch: usize,
    pub seq: usize,
    pub steps: usize,
    pub warmup: usize,
    pub profile: bool,
    /// The encoder's rows: `Cls` (what train, eval and predict run) or `All` (a full encoder).
    pub rows: Rows,
    /// Train steps in mixed precision (the adapter needs shader-f16: `train::check_precision`),
    /// at a fixed loss scale of 2^16.
    pub mixed: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct FamilyTime {
    pub family: String,
    pub ms: f64,
    pub share: f64,
    pub launches: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct TrainBench {
    pub adapter: String,
    pub batch: usize,
    pub seq: usize,
    /// "cls": the last layer for [CLS] alone (train, eval and predict); "all": every token.
    pub last_layer: &'static str,
    /// "f32" or "mixed": the training step's and inference's.
    pub precision: &'static str,
    pub parameters: usize,
    pub step_s_median: f64,
    pub step_s_min: f64,
    pub step_s_max: f64,
    pub first_step_s: f64,
    /// Seconds per step with the steps back to back as `train` runs them on a GPU: each
    /// submitted before the previous one's loss is read (None where the trainer does not queue
    /// steps: CPU adapters).
    pub pipelined_step_s: Option<f64>,
    /// Seconds the host spends recording and submitting a step (median over the timed steps):
    /// on a GPU, the step time queued steps cannot go below.
    pub host_record_s: f64,
    pub inference_seq_per_s: f64,
    /// The most the buffer pool held on the device: tensors and idle buffers.
    pub peak_gpu_mib: f64,
    /// The most the tensors alone held (what `peak_gpu_mib` reported before the pool's idle
    /// buffers were counted).
    pub peak_tensor_mib: f64,
    /// What the driver's allocator had reserved after the timed steps (None where the backend
    /// does not report it: Metal, GL, browsers).
    pub gpu_reserved_mib: Option<f64>,
    /// Buffers the pool created and freed during the timed steps: 0 and 0 when steady-state steps
    /// allocate nothing.
    pub buffers_created_per_step: f64,
    pub buffers_freed_per_step: f64,
    pub host_peak_rss_mib: Option<f64>,
    pub launches_per_step: u64,
    pub submissions_per_step: u64,
    /// What a launch costs beside its work: microseconds per launch of a one-element kernel,
    /// each reading the one before's output, recorded (host) and then run (after the submit).
    pub launch_host_us: f64,
    pub launch_gpu_us: f64,
    pub profile: Profile,
    /// The same for one inference batch.
    pub inference_profile: Profile,
}

/// GPU time per kernel family of what `run` records, from timestamp queries; empty where the
/// adapter has none.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Profile {
    /// Per op family (`family`), largest first.
    pub families: Vec<FamilyTime>,
    /// Per kernel entry point (its name in `family`), largest first: where the launches come from.
    pub entries: Vec<FamilyTime>,
    /// Every launch in order: entry point and GPU milliseconds (the offline tuner's input).
    pub timeline: Vec<(String, f64)>,
}

impl Profile {
    fn of(timings: Vec<(&'static str, f64)>) -> Profile {
        let table = |key: &dyn Fn(&str) -> String| {
            let mut by: BTreeMap<String, (f64, usize)> = BTreeMap::new();
            for (entry, ms) in &timings {
                let e = by.entry(key(entry)).or_default();
                e.0 += ms;
                e.1 += 1;
            }
            let total: f64 = by.values().map(|v| v.0).sum();
            let mut rows: Vec<FamilyTime> = by
                .into_iter()
                .map(|(f, (ms, k))| FamilyTime { family: f, ms, share: ms / total.max(1e-9), launches: k })
                .collect();
            rows.sort_by(|a, b| b.ms.total_cmp(&a.ms));
            rows
        };
        Profile {
            families: table(&|e| family(e).to_string()),
            entries: table(&|e| e.to_string()),
            timeline: timings.iter().map(|(e, ms)| (e.to_string(), *ms)).collect(),
        }
    }
}

fn profile_families(gpu: &Arc<Gpu>, run: impl FnOnce() -> Result<(), GpuError>) -> Result<Profile, GpuError> {
    if !gpu.profile_begin(2048) {
        return Ok(Profile::default());
    }
    let ran = run();
    let timings = ran.and_then(|()| gpu.profile_collect());
    gpu.profile_end();
    Ok(Profile::of(timings?))
}

/// The op family of a kernel entry point, for the profile table.
pub fn family(entry: &str) -> &'static str {
    match entry {
        // The panel variant's operand packing, apart: it is the data movement a cache of packed
        // weights would save.
        "pack_a" | "pack_b" => "matmul packing",
        e if e.starts_with("matmul") => "matmul",
        e if e.starts_with("softmax")
            || e.starts_with("attn_")
            || e.starts_with("pack_heads")
            || e.starts_with("pack_rows") =>
        {
            "attention"
        }
        e if e.starts_with("ln_") => "layernorm",
        e if e.starts_with("gelu") => "gelu",
        e if e.starts_with("embed") => "embedding",
        "bce_fwd" | "bce_bwd" | "ce_fwd" | "ce_bwd" | "bce_bwd_scaled" | "ce_bwd_scaled" => "loss",
        "adamw_begin" | "adamw_step" | "sumsq_partial" => "optimizer",
        "col_sum_partial" | "col_sum_final" | "sum_final" => "reductions",
        _ => "elementwise",
    }
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Peak resident set of this process (Linux: VmHWM), when the platform tells.
pub fn host_peak_rss_mib() -> Option<f64> {
    proc_status_mib("VmHWM:")
}

/// Resident set of this process now (Linux: VmRSS), when the platform tells.
pub fn host_rss_mib() -> Option<f64> {
    proc_status_mib("VmRSS:")
}

/// From Linux's /proc/self/status; None elsewhere (under Wine that file is the wineserver's).
fn proc_status_mib(field: &str) -> Option<f64> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// `b` examples of `t` random token ids each, labelled by turns.
fn random_examples(model: &BertClassifier, b: usize, t: usize, seed: u64) -> Encoded {
    let mut rng = crate::data::sample::Rng::new(seed);
    let v = model.config.vocab_size;
    Encoded {
        ids: (0..b).map(|_| (0..t).map(|_| rng.below(v) as u32).collect()).collect(),
        type_ids: vec![vec![0; t]; b],
        labels: (0..b).map(|i| i % model.num_labels.max(2)).collect(),
    }
}

fn random_batch(
    gpu: &Arc<Gpu>,
    model: &BertClassifier,
    b: usize,
    t: usize,
    seed: u64,
) -> Result<(Arc<TokenBatch>, crate::gpu::Tensor, crate::gpu::Tensor), GpuError> {
    let v = model.config.vocab_size as u64;
    let mut rng = crate::data::sample::Rng::new(seed);
    let ids: Vec<u32> = (0..b * t).map(|_| rng.below(v as usize) as u32).collect();
    let batch =
        TokenBatch::upload(gpu, &ids, &vec![0; b * t], b, t, model.config.vocab_size, model.config.type_vocab_size)?;
    let mask = gpu.upload("mask", &[b, t], &vec![1.0; b * t])?;
    let labels: Vec<f32> = (0..b).map(|i| (i % model.num_labels.max(2)) as f32).collect();
    let labels = gpu.upload("labels", &[b], &labels)?;
    Ok((Arc::new(batch), mask, labels))
}

/// Microseconds per launch of `LAUNCHES` dependent one-element launches (y += a·x, each after
/// the one before), recorded on the host and then run on the device after one submit: what the
/// launches of a step cost beyond their work, which launches_per_step multiplies.
fn launch_cost_us(gpu: &Arc<Gpu>) -> Result<(f64, f64), GpuError> {
    const LAUNCHES: usize = 1000;
    let x = gpu.upload("launch cost x", &[1], &[1.0])?;
    let y = gpu.zeros("launch cost y", &[1])?;
    crate::ops::elementwise::axpy(gpu, 1.0, &x, &y)?; // compiles the pipeline
    gpu.sync()?;
    let t0 = Instant::now();
    for _ in 0..LAUNCHES {
        crate::ops::elementwise::axpy(gpu, 1e-3, &x, &y)?;
    }
    let recorded = t0.elapsed().as_secs_f64();
    gpu.sync()?;
    let all = t0.elapsed().as_secs_f64();
    let us = |s: f64| s * 1e6 / LAUNCHES as f64;
    Ok((us(recorded), us(all - recorded)))
}

pub fn run(
    gpu: &Arc<Gpu>,
    model: &BertClassifier,
    o: &TrainBenchOptions,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<TrainBench> {
    let (b, t) = (o.batch, o.seq);
    // The trainer's own step, read-backs included (the loss and the optimizer's control
    // words), on batches of random tokens that fill all t positions.
    let opts = TrainOptions {
        batch_size: b,
        max_len: t,
        dropout: Some(0.1),
        precision: if o.mixed { Precision::Mixed } else { Precision::F32 },
        ..TrainOptions::default()
    };
    let steps = 1 + o.warmup + o.steps.max(1) + 1;
    let mut trainer = Trainer::new(gpu, model, opts, steps * b, 0)?;
    trainer.rows = o.rows;
    // A step's seconds: in all, and recording and submitting it on the host.
    let mut step = |i: usize| -> anyhow::Result<(f64, f64)> {
        let enc = random_examples(model, b, t, i as u64);
        let rows: Vec<usize> = (0..b).collect();
        let t0 = Instant::now();
        let submitted = trainer.submit(&enc, &rows, trainer.pos.global_step)?;
        let recorded = t0.elapsed().as_secs_f64();
        let (loss, _) = pollster::block_on(trainer.finish(submitted))?;
        if !loss.is_finite() {
            anyhow::bail!("loss is {loss} at step {i}");
        }
        trainer.pos.global_step += 1;
        Ok((t0.elapsed().as_secs_f64(), recorded))
    };
    gpu.reset_memory_peaks();
    let (first, _) = step(0)?;
    progress(&format!("first step (compiles pipelines, tunes new shapes): {first:.2} s"));
    for i in 0..o.warmup {
        step(1 + i)?;
    }
    let (sub0, launch0) = gpu.counters();
    let m0 = gpu.memory();
    let (mut times, mut recording) = (Vec::new(), Vec::new());
    for i in 0..o.steps.max(1) {
        let (all, recorded) = step(100 + i)?;
        times.push(all);
        recording.push(recorded);
        progress(&format!("step {}: {all:.2} s (recorded in {recorded:.3} s)", i + 1));
    }
    let (sub1, launch1) = gpu.counters();
    let m1 = gpu.memory();
    let gpu_reserved_mib = gpu.device_reserved_bytes().map(mib);
    let n = times.len() as u64;
    let spread = Spread::of(&times);

    // Whether the timestamps measure time is checked once, for both profiles.
    let profile_on = o.profile && crate::bench::kernels::timestamps_trustworthy(gpu)?;
    let mut stepped = Ok(());
    let profile = if profile_on {
        profile_families(gpu, || {
            stepped = step(1000).map(drop);
            Ok(())
        })?
    } else {
        Profile::default()
    };
    stepped?;

    // The same steps back to back, as `train` runs them where the trainer pipelines.
    let pipelined_step_s = if trainer.pipelines() {
        let examples: Vec<_> = (0..o.steps.max(2)).map(|i| random_examples(model, b, t, 2000 + i as u64)).collect();
        let rows: Vec<usize> = (0..b).collect();
        let g0 = trainer.pos.global_step;
        let t0 = Instant::now();
        let mut queued = trainer.submit(&examples[0], &rows, g0)?;
        for (i, enc) in examples.iter().enumerate().skip(1) {
            let next = trainer.submit(enc, &rows, g0 + i as u64)?;
            let (loss, _) = pollster::block_on(trainer.finish(std::mem::replace(&mut queued, next)))?;
            if !loss.is_finite() {
                anyhow::bail!("loss is {loss} at back-to-back step {i}");
            }
        }
        pollster::block_on(trainer.finish(queued))?;
        trainer.pos.global_step += examples.len() as u64;
        Some(t0.elapsed().as_secs_f64() / examples.len() as f64)
    } else {
        None
    };

    // Inference as eval and predict run it: no tape, no dropout, batch b; in mixed precision
    // on the weights rounded to f16.
    let (batch, mask, _) = random_batch(gpu, model, b, t, 7)?;
    let no_dropout = Dropouts { hidden: 0.0, attention: 0.0, classifier: 0.0 };
    let infer = || -> Result<f64, GpuError> {
        let t0 = Instant::now();
        let mut tape = if o.mixed { Tape::inference_half(gpu) } else { Tape::inference(gpu) };
        let logits = model.forward_rows(&mut tape, &batch, &mask, no_dropout, o.rows)?;
        logits.value.to_vec()?;
        Ok(t0.elapsed().as_secs_f64())
    };
    infer()?;
    let it = infer()?.min(infer()?);
    let inference_profile = if profile_on { profile_families(gpu, || infer().map(drop))? } else { Profile::default() };
    let (launch_host_us, launch_gpu_us) = launch_cost_us(gpu)?;

    Ok(TrainBench {
        adapter: gpu.info().name.clone(),
        batch: b,
        seq: t,
        last_layer: match o.rows {
            Rows::Cls => "cls",
            Rows::All => "all",
        },
        precision: if o.mixed { "mixed" } else { "f32" },
        parameters: model.params.numel(),
        step_s_median: spread.median,
        step_s_min: spread.min,
        step_s_max: spread.max,
        first_step_s: first,
        pipelined_step_s,
        host_record_s: Spread::of(&recording).median,
        inference_seq_per_s: b as f64 / it,
        peak_gpu_mib: mib(gpu.memory().peak_total),
        peak_tensor_mib: mib(gpu.memory().peak_live),
        gpu_reserved_mib,
        buffers_created_per_step: (m1.buffers_created - m0.buffers_created) as f64 / n as f64,
        buffers_freed_per_step: (m1.buffers_freed - m0.buffers_freed) as f64 / n as f64,
        host_peak_rss_mib: host_peak_rss_mib(),
        launches_per_step: (launch1 - launch0) / n,
        submissions_per_step: (sub1 - sub0) / n,
        launch_host_us,
        launch_gpu_us,
        profile,
        inference_profile,
    })
}
