//! Burn 0.22.1 on its wgpu backend, timed on the shapes `wgbert bench` times, so the two can be
//! compared on one adapter in one run (`tools/bench_burn.sh`).
//!
//!   burn-peer-bench matmul --sizes 512,1024 --reps 5
//!   burn-peer-bench train --batch-size 8 --max-len 128 --steps 3
//!
//! Each prints one JSON object per line on stdout; progress goes to stderr. Every timed call is
//! closed by `Device::sync` (Burn's fusion backend queues work lazily: without the sync a timer
//! would measure the queueing, not the work).

use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::nn::transformer::{TransformerEncoder, TransformerEncoderConfig, TransformerEncoderInput};
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig};
use burn::nn::{Linear, LinearConfig};
use burn::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("matmul") => Flags::parse(&args[1..]).and_then(|f| matmul(&f)),
        Some("train") => Flags::parse(&args[1..]).and_then(|f| train(&f)),
        _ => Err(USAGE.to_string()),
    };
    if let Err(e) = result {
        eprintln!("burn-peer-bench: {e}");
        std::process::exit(2);
    }
}

const USAGE: &str = "usage:
  burn-peer-bench matmul [--sizes 512,1024] [--reps 5]
  burn-peer-bench train [--batch-size 8] [--max-len 128] [--steps 3] [--warmup 1] [--infer-reps 3]";

/// The command line, one flag each; defaults are the comparison's shapes.
struct Flags {
    sizes: Vec<usize>,
    reps: usize,
    batch: usize,
    seq: usize,
    steps: usize,
    warmup: usize,
    infer_reps: usize,
}

impl Flags {
    fn parse(args: &[String]) -> Result<Flags, String> {
        let mut f = Flags { sizes: vec![512, 1024], reps: 5, batch: 8, seq: 128, steps: 3, warmup: 1, infer_reps: 3 };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it.next().ok_or(format!("{flag} needs a value\n{USAGE}"))?;
            let number = |v: &str| v.parse::<usize>().map_err(|_| format!("{flag}: not a number: {v}"));
            match flag.as_str() {
                "--sizes" => f.sizes = value.split(',').map(number).collect::<Result<_, _>>()?,
                "--reps" => f.reps = number(value)?,
                "--batch-size" => f.batch = number(value)?,
                "--max-len" => f.seq = number(value)?,
                "--steps" => f.steps = number(value)?,
                "--warmup" => f.warmup = number(value)?,
                "--infer-reps" => f.infer_reps = number(value)?,
                _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
            }
        }
        if f.reps == 0 || f.steps == 0 || f.infer_reps == 0 || f.sizes.is_empty() {
            return Err("--sizes, --reps, --steps and --infer-reps need at least one".into());
        }
        Ok(f)
    }
}

/// Burn's default device: with only the `wgpu` feature, wgpu's best adapter (lavapipe on a
/// machine without a GPU), kernels compiled from CubeCL to WGSL.
fn device() -> (Device, String) {
    let device = Device::default();
    let adapter = device.identity().map_or("unknown".to_string(), |id| id.name);
    eprintln!("adapter: {adapter}");
    (device, adapter)
}

fn sync(device: &Device) -> Result<(), String> {
    device.sync().map_err(|e| format!("device sync failed: {e:?}"))
}

/// (median, min, max) of some seconds.
fn spread(times: &[f64]) -> (f64, f64, f64) {
    let mut t = times.to_vec();
    t.sort_by(f64::total_cmp);
    let mid = t.len() / 2;
    let median = if t.len() % 2 == 1 { t[mid] } else { (t[mid - 1] + t[mid]) / 2.0 };
    (median, t[0], t[t.len() - 1])
}

/// A JSON string literal (adapter names are plain, but quote what must be quoted).
fn json_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

// ---------------------------------------------------------------------------------------------
// matmul: C (n, n) = A (n, n) · B (n, n), f32.

fn matmul(f: &Flags) -> Result<(), String> {
    let (device, adapter) = device();
    for &n in &f.sizes {
        let a = Tensor::<2>::random([n, n], Distribution::Uniform(-1.0, 1.0), &device);
        let b = Tensor::<2>::random([n, n], Distribution::Uniform(-1.0, 1.0), &device);
        sync(&device)?;
        // One product, synced; `c` is held across the sync so that the fusion backend cannot
        // drop the product as unused.
        let timed = || -> Result<(f64, Tensor<2>), String> {
            let t0 = Instant::now();
            let c = a.clone().matmul(b.clone());
            sync(&device)?;
            Ok((t0.elapsed().as_secs_f64(), c))
        };
        // The first product of a shape builds its pipelines and autotunes the kernel choice.
        let (first, c) = timed()?;
        eprintln!("matmul {n}³: first call {first:.2} s");
        check_corner(&a, &b, c, n)?;
        let mut times = Vec::with_capacity(f.reps);
        for _ in 0..f.reps {
            times.push(timed()?.0);
        }
        let (median, min, max) = spread(&times);
        let gflops = |s: f64| 2.0 * (n as f64).powi(3) / s / 1e9;
        eprintln!("matmul {n}³: {median:.4} s median, {:.2} GFLOP/s", gflops(median));
        println!(
            "{{\"bench\":\"matmul\",\"adapter\":{},\"n\":{n},\"reps\":{},\"first_call_s\":{first},\
             \"s_median\":{median},\"s_min\":{min},\"s_max\":{max},\"gflops\":{},\"gflops_best\":{}}}",
            json_str(&adapter),
            f.reps,
            gflops(median),
            gflops(min)
        );
    }
    Ok(())
}

/// C[0][0] against a dot product on the host: the timed product was computed, and right.
fn check_corner(a: &Tensor<2>, b: &Tensor<2>, c: Tensor<2>, n: usize) -> Result<(), String> {
    let read = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().map_err(|e| format!("read-back: {e:?}"));
    let row = read(a.clone().slice([0..1, 0..n]))?;
    let col = read(b.clone().slice([0..n, 0..1]))?;
    let want: f64 = row.iter().zip(&col).map(|(x, y)| (*x as f64) * (*y as f64)).sum();
    let got = read(c.slice([0..1, 0..1]))?[0] as f64;
    // f32 accumulation over n terms of size <= 1: an error far below 1e-3 * sqrt(n).
    if (got - want).abs() > 1e-3 * (n as f64).sqrt() {
        return Err(format!("matmul {n}³ is wrong: C[0][0] = {got}, the host says {want}"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// train: a MiniLM-shaped sequence classifier (all-MiniLM-L6-v2's shapes, random weights).

const V: usize = 30522; // vocabulary
const C: usize = 384; // hidden
const L: usize = 6; // layers
const NH: usize = 12; // heads
const FFN: usize = 1536; // feed-forward width
const POSITIONS: usize = 512; // learned position embeddings
const TYPES: usize = 2; // token-type embeddings
const LABELS: usize = 2;
const DROPOUT: f64 = 0.1;
const LN_EPS: f64 = 1e-12; // BERT's

/// BERT for sequence classification, as Hugging Face lays it out and wgbert trains it:
/// embeddings (word + position + token type) → LayerNorm → dropout → L post-LayerNorm encoder
/// layers → pooler tanh(dense(x[:, 0])) → dropout → classifier.
#[derive(Module, Debug)]
struct MiniLm {
    word: Embedding,       // (V, C)
    position: Embedding,   // (POSITIONS, C)
    token_type: Embedding, // (TYPES, C)
    embed_norm: LayerNorm, // (C)
    dropout: Dropout,
    /// Burn's encoder with `norm_first = false`: LayerNorm after each residual add, as BERT.
    encoder: TransformerEncoder,
    pooler: Linear,     // (C, C)
    classifier: Linear, // (C, LABELS)
}

impl MiniLm {
    fn new(device: &Device) -> MiniLm {
        MiniLm {
            word: EmbeddingConfig::new(V, C).init(device),
            position: EmbeddingConfig::new(POSITIONS, C).init(device),
            token_type: EmbeddingConfig::new(TYPES, C).init(device),
            embed_norm: LayerNormConfig::new(C).with_epsilon(LN_EPS).init(device),
            dropout: DropoutConfig::new(DROPOUT).init(),
            encoder: TransformerEncoderConfig::new(C, FFN, NH, L)
                .with_dropout(DROPOUT)
                .with_norm_first(false)
                .with_layer_norm_eps(LN_EPS)
                .init(device), // GELU (erf) is the encoder's default activation
            pooler: LinearConfig::new(C, C).init(device),
            classifier: LinearConfig::new(C, LABELS).init(device),
        }
    }

    /// tokens (B, T) → logits (B, LABELS). Every position is a real token (no padding mask),
    /// all of token type 0.
    fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        let [b, t] = tokens.dims();
        let device = tokens.device();
        let positions = Tensor::<1, Int>::arange(0..t as i64, &device).reshape([1, t]).repeat_dim(0, b);
        let types = Tensor::<2, Int>::zeros([b, t], &device);
        let x = self.word.forward(tokens) + self.position.forward(positions) + self.token_type.forward(types);
        let x = self.dropout.forward(self.embed_norm.forward(x)); // (B, T, C)
        let x = self.encoder.forward(TransformerEncoderInput::new(x)); // (B, T, C)
        let cls = x.slice([0..b, 0..1]).reshape([b, C]); // (B, C)
        let pooled = self.pooler.forward(cls).tanh();
        self.classifier.forward(self.dropout.forward(pooled)) // (B, LABELS)
    }
}

/// A batch of random token ids (B, T) and labels (B), from a seeded LCG.
fn random_batch(b: usize, t: usize, seed: u64, device: &Device) -> (Tensor<2, Int>, Tensor<1, Int>) {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = |m: usize| {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 33) % m as u64) as i64
    };
    let ids: Vec<i64> = (0..b * t).map(|_| next(V)).collect();
    let labels: Vec<i64> = (0..b).map(|_| next(LABELS)).collect();
    (
        Tensor::from_data(TensorData::new(ids, [b, t]), device),
        Tensor::from_data(TensorData::new(labels, [b]), device),
    )
}

/// One step: forward, backward, AdamW, then the loss read back and the device synced, so that
/// the optimizer's updates land inside the step that made them. The model moves through (no
/// clone), so Burn may update parameters in place.
fn train_step(
    model: MiniLm,
    optim: &mut ModuleOptimizer,
    loss_fn: &CrossEntropyLoss,
    (tokens, labels): (Tensor<2, Int>, Tensor<1, Int>),
    device: &Device,
) -> Result<(MiniLm, f64), String> {
    sync(device)?;
    let t0 = Instant::now();
    let loss = loss_fn.forward(model.forward(tokens), labels);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let model = optim.step(2e-5, model, grads);
    let loss: f32 = loss.into_scalar();
    sync(device)?;
    let s = t0.elapsed().as_secs_f64();
    if !loss.is_finite() {
        return Err(format!("loss is {loss}"));
    }
    Ok((model, s))
}

fn train(f: &Flags) -> Result<(), String> {
    let (plain, adapter) = device();
    let device = plain.clone().autodiff();
    let (b, t) = (f.batch, f.seq);
    if t > POSITIONS {
        return Err(format!("--max-len {t} is above the {POSITIONS} position embeddings"));
    }
    let model = MiniLm::new(&device);
    let parameters = model.num_params();
    eprintln!("MiniLM-shaped classifier: {parameters} parameters, batch {b} x {t}");
    let loss_fn: CrossEntropyLoss = CrossEntropyLossConfig::new().init(&device);
    // wgbert's AdamW settings: eps 1e-6, weight decay 0.01, gradients clipped to norm 1 (Burn
    // clips each parameter's gradient by its own norm, wgbert by the global norm).
    let mut optim = AdamWConfig::new()
        .with_epsilon(1e-6)
        .with_weight_decay(0.01)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init();

    // `n` steps in a row: the model after them and each step's seconds.
    let mut seed = 0;
    let mut run = |mut model: MiniLm, n: usize, what: &str| -> Result<(MiniLm, Vec<f64>), String> {
        let mut times = Vec::with_capacity(n);
        for i in 0..n {
            seed += 1;
            let batch = random_batch(b, t, seed, &device);
            let (trained, s) = train_step(model, &mut optim, &loss_fn, batch, &device)?;
            model = trained;
            eprintln!("{what} {}: {s:.2} s", i + 1);
            times.push(s);
        }
        Ok((model, times))
    };
    let (model, first) = run(model, 1, "first step (compiles pipelines, autotunes)")?;
    // Burn's second step still builds pipelines (AdamW's moments exist from then on, and fusion
    // meets new op sequences): untimed warm-up steps, reported apart.
    let (model, warmup) = run(model, f.warmup, "warm-up step")?;
    let (model, times) = run(model, f.steps, "step")?;
    let first = first[0];
    let (median, min, max) = spread(&times);

    // Inference: no autodiff, no dropout, batch b, logits read back. The first batch builds
    // the forward-only pipelines and is not timed; then the best of `infer_reps` (as wgbert
    // reports its inference), and the median beside it.
    let eval = model.valid();
    let (tokens, _) = random_batch(b, t, 7, &plain);
    let infer = || -> Result<f64, String> {
        sync(&plain)?;
        let t0 = Instant::now();
        let logits = eval.forward(tokens.clone());
        logits.into_data().try_to_vec::<f32>().map_err(|e| format!("read-back: {e:?}"))?;
        Ok(t0.elapsed().as_secs_f64())
    };
    let infer_first = infer()?;
    eprintln!("first inference batch: {infer_first:.2} s");
    let infer_times = (0..f.infer_reps).map(|_| infer()).collect::<Result<Vec<_>, _>>()?;
    let (infer_median, infer_best, _) = spread(&infer_times);
    eprintln!("inference: {:.2} sequences/s (best of {})", b as f64 / infer_best, f.infer_reps);

    println!(
        "{{\"bench\":\"train\",\"adapter\":{},\"batch\":{b},\"seq\":{t},\"parameters\":{parameters},\
         \"steps\":{},\"first_step_s\":{first},\"warmup_steps_s\":{warmup:?},\"step_s_median\":{median},\"step_s_min\":{min},\
         \"step_s_max\":{max},\"inference_first_s\":{infer_first},\"inference_seq_per_s\":{},\
         \"inference_seq_per_s_median\":{}}}",
        json_str(&adapter),
        f.steps,
        b as f64 / infer_best,
        b as f64 / infer_median
    );
    Ok(())
}
