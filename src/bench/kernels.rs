//! `wgbert bench kernels`: GFLOP/s of matmul and attention, GB/s of the memory-bound kernels,
//! forward and backward, at BERT shapes, plus square matmuls.
//!
//! Each case is launched `warmup` times, then timed `reps` times. A timed repetition is one
//! submission of the case's launches: GPU time from timestamp queries where the adapter has
//! them, else wall time from submit to completion.

use std::sync::Arc;
use web_time::Instant;

use super::stats::Spread;
use crate::gpu::{Gpu, GpuError, Tensor};
use crate::ops::attention::{attention_backward, attention_forward, AttentionShape};
use crate::ops::layernorm::LnVariant;
use crate::ops::matmul::{
    gemm_with, linear, linear_backward, linear_backward_into, matmul, Dims, Layout, Operands, Variant,
};
use crate::ops::{adamw, gelu, layernorm, reduce};

/// One row of the table (and one object of `--json`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct KernelResult {
    pub kernel: String,
    pub pass: String,
    pub shape: String,
    pub variant: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gflops: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gbps: Option<f64>,
    pub ms_median: f64,
    pub ms_min: f64,
    pub ms_max: f64,
    pub timing: String,
}

#[derive(Clone, Debug)]
pub struct KernelBenchOptions {
    pub reps: usize,
    pub warmup: usize,
    /// Only cases whose "kernel pass shape" contains this (e.g. "matmul fwd 1024x").
    pub filter: Option<String>,
    /// Small shapes only: a quick check that every case runs.
    pub quick: bool,
    /// Add 4096³ (for real GPUs).
    pub large: bool,
    /// Time every matmul case once per variant (reg, tiled, wide, wide64, panel, coop) instead of once with the
    /// adapter's choice: the rows a tuner needs, from one process.
    pub all_variants: bool,
}

enum Work {
    Flops(f64),
    Bytes(f64),
}

struct Case {
    kernel: &'static str,
    pass: &'static str,
    shape: String,
    work: Work,
    run: Box<dyn Fn() -> Result<(), GpuError>>,
}

fn rand_tensor(gpu: &Arc<Gpu>, name: &str, shape: &[usize], scale: f32) -> Result<Tensor, GpuError> {
    let n: usize = shape.iter().product();
    let mut rng = crate::data::sample::Rng::new(n as u64);
    let data: Vec<f32> =
        (0..n).map(|_| ((rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale).collect();
    gpu.upload(name, shape, &data)
}

fn cases(gpu: &Arc<Gpu>, o: &KernelBenchOptions) -> Result<Vec<Case>, GpuError> {
    let mut cases = Vec::new();
    let tokens = if o.quick { 64 } else { 32 * 128 };
    let hiddens: &[(usize, usize)] = if o.quick { &[(32, 64)] } else { &[(384, 1536), (768, 3072)] };

    // Square matmuls.
    let squares: Vec<usize> = if o.quick {
        vec![64]
    } else if o.large {
        vec![512, 1024, 2048, 4096]
    } else {
        vec![512, 1024, 2048]
    };
    for n in squares {
        let (a, b) = (rand_tensor(gpu, "a", &[n, n], 1.0)?, rand_tensor(gpu, "b", &[n, n], 1.0)?);
        // The same product with f16 operands (mixed precision's: read rounded to f16), where
        // the adapter has f16.
        if gpu.has_f16() {
            let (a16, b16) = (a.read_as_f16(), b.read_as_f16());
            let g = gpu.clone();
            cases.push(Case {
                kernel: "matmul-f16",
                pass: "fwd",
                shape: format!("{n}x{n}x{n}"),
                work: Work::Flops(2.0 * (n * n * n) as f64),
                run: Box::new(move || matmul(&g, &a16, &b16, false, false).map(drop)),
            });
        }
        let g = gpu.clone();
        cases.push(Case {
            kernel: "matmul",
            pass: "fwd",
            shape: format!("{n}x{n}x{n}"),
            work: Work::Flops(2.0 * (n * n * n) as f64),
            run: Box::new(move || matmul(&g, &a, &b, false, false).map(drop)),
        });
    }
    // BERT's linear layers: (tokens, in) · (out, in)ᵀ.
    for &(c, inter) in hiddens {
        for (in_f, out_f) in [(c, 3 * c), (c, c), (c, inter), (inter, c)] {
            let x = rand_tensor(gpu, "x", &[tokens, in_f], 1.0)?;
            let w = rand_tensor(gpu, "w", &[out_f, in_f], 0.05)?;
            let bias = rand_tensor(gpu, "bias", &[out_f], 0.05)?;
            let dy = rand_tensor(gpu, "dy", &[tokens, out_f], 1.0)?;
            let dw = gpu.zeros("dw", &[out_f, in_f])?;
            let db = gpu.zeros("db", &[out_f])?;
            let flops = 2.0 * (tokens * in_f * out_f) as f64;
            let shape = format!("{tokens}x{out_f}x{in_f}");
            let (g, x2, w2, bias2) = (gpu.clone(), x.clone(), w.clone(), bias.clone());
            cases.push(Case {
                kernel: "matmul",
                pass: "fwd",
                shape: shape.clone(),
                work: Work::Flops(flops),
                run: Box::new(move || linear(&g, &x2, &w2, Some(&bias2)).map(drop)),
            });
            // Mixed precision's form of the same layer: x, w and dy read rounded to f16, f32 bias,
            // output and accumulation (`Tape::linear`).
            if gpu.has_f16() {
                let (x16, w16, dy16) = (x.read_as_f16(), w.read_as_f16(), dy.read_as_f16());
                let (g, x2, w2) = (gpu.clone(), x16.clone(), w16.clone());
                cases.push(Case {
                    kernel: "matmul-f16",
                    pass: "fwd",
                    shape: shape.clone(),
                    work: Work::Flops(flops),
                    run: Box::new(move || linear(&g, &x2, &w2, Some(&bias)).map(drop)),
                });
                let (g, dw2, db2) = (gpu.clone(), dw.clone(), db.clone());
                cases.push(Case {
                    kernel: "matmul-f16",
                    pass: "bwd",
                    shape: shape.clone(),
                    work: Work::Flops(2.0 * flops),
                    run: Box::new(move || {
                        linear_backward_into(&g, &dy16, &x16, &w16, &dw2, Some(&db2), true, None).map(drop)
                    }),
                });
            }
            let g = gpu.clone();
            cases.push(Case {
                kernel: "matmul",
                pass: "bwd",
                shape,
                work: Work::Flops(2.0 * flops),
                run: Box::new(move || linear_backward(&g, &dy, &x, &w, &dw, Some(&db), true).map(drop)),
            });
        }
    }
    // Attention at T = 128, 12 heads.
    let (b, t) = if o.quick { (2, 16) } else { (32, 128) };
    for &(c, _) in hiddens {
        let nh = if o.quick { 2 } else { 12 };
        let s = AttentionShape { b, t, nh, hs: c / nh };
        let qkv = rand_tensor(gpu, "qkv", &[b * t, 3 * c], 1.0)?;
        let mask = gpu.upload("mask", &[b, t], &vec![1.0; b * t])?;
        let dctx = rand_tensor(gpu, "dctx", &[b * t, c], 1.0)?;
        let (ctx, saved) = attention_forward(gpu, s, &qkv, &mask, None)?;
        let flops = 4.0 * (b * nh * t * t * s.hs) as f64;
        let shape = format!("b{b} t{t} nh{nh} hs{}", s.hs);
        let (g, q2, m2) = (gpu.clone(), qkv.clone(), mask.clone());
        cases.push(Case {
            kernel: "attention",
            pass: "fwd",
            shape: shape.clone(),
            work: Work::Flops(flops),
            run: Box::new(move || attention_forward(&g, s, &q2, &m2, None).map(drop)),
        });
        let g = gpu.clone();
        cases.push(Case {
            kernel: "attention",
            pass: "bwd",
            shape,
            work: Work::Flops(2.0 * flops),
            run: Box::new(move || attention_backward(&g, s, &dctx, &qkv, &mask, &ctx, &saved, None).map(drop)),
        });
    }
    // Memory-bound kernels; bytes are the minimum each must move.
    for &(c, inter) in hiddens {
        let x = rand_tensor(gpu, "x", &[tokens, c], 1.0)?;
        let gamma = rand_tensor(gpu, "gamma", &[c], 1.0)?;
        let beta = rand_tensor(gpu, "beta", &[c], 1.0)?;
        let dy = rand_tensor(gpu, "dy", &[tokens, c], 1.0)?;
        let (_, saved) = layernorm::layernorm_forward(gpu, &x, &gamma, &beta, 1e-12)?;
        let (dg, db) = (gpu.zeros("dgamma", &[c])?, gpu.zeros("dbeta", &[c])?);
        let n = (tokens * c) as f64;
        let (g, x2, g2, b2) = (gpu.clone(), x.clone(), gamma.clone(), beta.clone());
        cases.push(Case {
            kernel: "layernorm",
            pass: "fwd",
            shape: format!("{tokens}x{c}"),
            work: Work::Bytes(8.0 * n),
            run: Box::new(move || layernorm::layernorm_forward(&g, &x2, &g2, &b2, 1e-12).map(drop)),
        });
        let g = gpu.clone();
        cases.push(Case {
            kernel: "layernorm",
            pass: "bwd",
            shape: format!("{tokens}x{c}"),
            work: Work::Bytes(12.0 * n),
            run: Box::new(move || layernorm::layernorm_backward(&g, &dy, &x, &gamma, &saved, &dg, &db).map(drop)),
        });

        let h = rand_tensor(gpu, "h", &[tokens, inter], 2.0)?;
        let dh = rand_tensor(gpu, "dh", &[tokens, inter], 1.0)?;
        let n = (tokens * inter) as f64;
        let (g, h2) = (gpu.clone(), h.clone());
        cases.push(Case {
            kernel: "gelu",
            pass: "fwd",
            shape: format!("{tokens}x{inter}"),
            work: Work::Bytes(8.0 * n),
            run: Box::new(move || gelu::gelu_forward(&g, &h2, gelu::GeluKind::Erf).map(drop)),
        });
        let g = gpu.clone();
        cases.push(Case {
            kernel: "gelu",
            pass: "bwd",
            shape: format!("{tokens}x{inter}"),
            work: Work::Bytes(12.0 * n),
            run: Box::new(move || gelu::gelu_backward(&g, &dh, &h, gelu::GeluKind::Erf).map(drop)),
        });
    }
    {
        let nh = if o.quick { 2 } else { 12 };
        let scores = rand_tensor(gpu, "scores", &[b * nh, t, t], 3.0)?;
        let dprobs = rand_tensor(gpu, "dprobs", &[b * nh, t, t], 1.0)?;
        let mask = gpu.upload("mask", &[b, t], &vec![1.0; b * t])?;
        let n = (b * nh * t * t) as f64;
        let (g, s2) = (gpu.clone(), scores.clone());
        cases.push(Case {
            kernel: "softmax",
            pass: "fwd",
            shape: format!("{}x{t}x{t}", b * nh),
            work: Work::Bytes(8.0 * n),
            run: Box::new(move || crate::ops::attention::softmax_forward(&g, &s2, &mask, nh, 0.125)),
        });
        let g = gpu.clone();
        cases.push(Case {
            kernel: "softmax",
            pass: "bwd",
            shape: format!("{}x{t}x{t}", b * nh),
            work: Work::Bytes(12.0 * n),
            run: Box::new(move || crate::ops::attention::softmax_backward(&g, &scores, &dprobs, nh, 0.125)),
        });
    }
    {
        // All of all-MiniLM-L6-v2's 22.7 M parameters as one arena, as a training step runs it.
        let n = if o.quick { 10_000 } else { 22_713_216 };
        let p = rand_tensor(gpu, "param", &[n], 1.0)?;
        let gr = rand_tensor(gpu, "grad", &[n], 1.0)?;
        let (m, v) = (gpu.zeros("m", &[n])?, gpu.zeros("v", &[n])?);
        let norm = gpu.zeros("norm", &[1])?;
        let decay = gpu.upload("decay", &[n.div_ceil(adamw::DECAY_SLOT)], &vec![1.0; n.div_ceil(adamw::DECAY_SLOT)])?;
        reduce::global_sumsq(gpu, &[&gr], &norm)?;
        let g = gpu.clone();
        let h = adamw::AdamwStep {
            lr: 1e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-6,
            weight_decay: 0.01,
            max_norm: 1.0,
            first: 0,
        };
        // The control words of a first step, settled once: each timed update repeats it.
        let words = adamw::control::initial(1.0);
        let control = gpu.upload_u32("control", &[words.len()], &words)?;
        let table = adamw::bias_corrections(h.beta1, h.beta2, 1);
        adamw::adamw_begin(gpu, None, &norm, &control, &gpu.upload("bias corrections", &[2], &table)?)?;
        cases.push(Case {
            kernel: "adamw",
            pass: "step",
            shape: format!("{n}"),
            work: Work::Bytes(28.0 * n as f64),
            run: Box::new(move || adamw::adamw_update(&g, &h, &p, &gr, &m, &v, &decay, &norm, &control)),
        });
    }
    if let Some(f) = &o.filter {
        cases.retain(|c| format!("{} {} {}", c.kernel, c.pass, c.shape).contains(f.as_str()));
    }
    Ok(cases)
}

/// Runs the benchmark, calling `progress` after each case.
/// Whether GPU time read from timestamps can be real beside the wall time of the same work
/// (submit to completion, at least 5 ms of it): not zero, and not under a tenth of it.
pub fn timestamps_plausible(gpu_ms: f64, wall_ms: f64) -> bool {
    gpu_ms > 0.0 && gpu_ms * 10.0 >= wall_ms
}

/// Whether this adapter's timestamp queries measure time. Some drivers offer them but read zero,
/// or thousands of times too little (wgpu's GL back end under Wine), which would make every rate
/// absurd. 512³ products are timed both ways, n and then 2n of them, n doubling until the extra
/// n take 5 ms of wall time: the difference leaves out what every measurement pays once (query
/// set, submission, read-back), which on a fast GPU is most of a short run's wall time.
/// False, with a note, where the timestamps cannot be trusted (or the adapter has none).
pub fn timestamps_trustworthy(gpu: &Arc<Gpu>) -> Result<bool, GpuError> {
    if !gpu.features().contains(wgpu::Features::TIMESTAMP_QUERY) {
        return Ok(false);
    }
    let n = 512;
    let a = gpu.zeros("timestamp check A", &[n, n])?;
    let c = gpu.zeros("timestamp check C", &[n, n])?;
    let d = Dims { m: n, n, k: n, nb1: 1, nb2: 1 };
    let l = Layout::rows(n);
    let product = || gemm_with(gpu, Variant::Register, d, (&a, l), (&a, l), None, (&c, l), 1.0, false);
    product()?; // compile
    gpu.sync()?;
    // (GPU ms, wall ms) of `launches` products in one submission.
    let timed = |launches: usize| -> Result<(f64, f64), GpuError> {
        let t0 = Instant::now();
        gpu.profile_begin(256);
        for _ in 0..launches {
            product()?;
        }
        let t = gpu.profile_collect()?;
        gpu.profile_end();
        Ok((t.iter().map(|(_, v)| v).sum(), t0.elapsed().as_secs_f64() * 1e3))
    };
    let mut launches = 1;
    loop {
        let (g1, w1) = timed(launches)?;
        let (g2, w2) = timed(2 * launches)?;
        let (gpu_ms, wall_ms) = (g2 - g1, w2 - w1);
        if wall_ms >= 5.0 || launches >= 1024 {
            let ok = timestamps_plausible(gpu_ms, wall_ms);
            if !ok {
                eprintln!(
                    "note: this adapter's timestamps are not time ({gpu_ms:.5} ms of GPU time for {wall_ms:.1} ms of work); timing by wall clock (submit to completion)"
                );
            }
            return Ok(ok);
        }
        launches *= 2;
    }
}

pub fn run(
    gpu: &Arc<Gpu>,
    o: &KernelBenchOptions,
    mut progress: impl FnMut(&KernelResult),
) -> Result<Vec<KernelResult>, GpuError> {
    // With tuning on (and no variant forced), each matmul runs its shape's measured choice.
    let tuned = gpu.tunes("matmul");
    let variant = if tuned { "tuned".to_string() } else { Variant::for_gpu(gpu).name().to_string() };
    let timestamps = timestamps_trustworthy(gpu)?;
    let attention_label = if gpu.tunes("attention") {
        "tuned".to_string()
    } else if crate::ops::attention::use_fused(gpu, &AttentionShape { b: 32, t: 128, nh: 12, hs: 32 })? {
        "fused".to_string()
    } else {
        format!("matmul:{}", Variant::for_gpu(gpu).name())
    };
    let mut results = Vec::new();
    for case in cases(gpu, o)? {
        let is_matmul = case.kernel.starts_with("matmul");
        let operands = if case.kernel == "matmul-f16" { Operands::F16 } else { Operands::F32 };
        // `--variant all`: the row once per variant, each set for it alone, as (family, variant,
        // label). A matmul's backward in a variant that runs dW and dX as one launch is also
        // timed as two ("wide separate"); LayerNorm per way of covering its rows.
        let mut forced: Vec<Vec<(&str, &str)>> = Vec::new();
        let mut labels: Vec<String> = Vec::new();
        if o.all_variants && is_matmul {
            for v in Variant::runnable(gpu, operands) {
                forced.push(vec![("matmul", v.name())]);
                labels.push(v.name().to_string());
                if case.pass == "bwd" && v.pair_entry().is_some() {
                    forced.push(vec![("matmul", v.name()), ("linear_backward", "separate")]);
                    labels.push(format!("{} separate", v.name()));
                }
            }
        } else if o.all_variants && case.kernel == "layernorm" {
            for v in LnVariant::ALL.into_iter().filter(|v| v.runs(gpu, last_dim(&case.shape))) {
                forced.push(vec![("layernorm", v.name())]);
                labels.push(v.name().to_string());
            }
        } else {
            forced.push(Vec::new());
            labels.push(match case.kernel {
                "matmul" | "matmul-f16" => variant.clone(),
                "attention" => attention_label.clone(),
                "layernorm" => LnVariant::for_gpu(gpu, last_dim(&case.shape)).name().to_string(),
                _ => "-".into(),
            });
        }
        for (set, label) in forced.into_iter().zip(labels) {
            for (family, v) in &set {
                gpu.set_variant(family, v);
            }
            let r = time_case(gpu, o, &case, timestamps);
            for (family, _) in &set {
                gpu.clear_variant(family);
            }
            let r = KernelResult { variant: label, ..r? };
            progress(&r);
            results.push(r);
        }
    }
    Ok(results)
}

/// The last dimension of a case's shape ("4096x384": 384).
fn last_dim(shape: &str) -> usize {
    shape.rsplit('x').next().and_then(|d| d.parse().ok()).unwrap_or(0)
}

/// One case: `warmup` untimed launches, then `reps` timed ones (GPU time from timestamps when
/// they are trusted, else submit-to-completion wall time). The variant is left for the caller.
fn time_case(gpu: &Arc<Gpu>, o: &KernelBenchOptions, case: &Case, timestamps: bool) -> Result<KernelResult, GpuError> {
    for _ in 0..o.warmup {
        (case.run)()?;
    }
    gpu.sync()?;
    let mut ms = Vec::with_capacity(o.reps);
    for _ in 0..o.reps.max(1) {
        if timestamps {
            gpu.profile_begin(256);
            (case.run)()?;
            let t = gpu.profile_collect()?;
            gpu.profile_end();
            ms.push(t.iter().map(|(_, v)| v).sum());
        } else {
            let t0 = Instant::now();
            (case.run)()?;
            gpu.sync()?;
            ms.push(t0.elapsed().as_secs_f64() * 1e3);
        }
    }
    let s = Spread::of(&ms);
    let rate = |w: f64| w / (s.median * 1e-3) / 1e9;
    let (gflops, gbps) = match case.work {
        Work::Flops(f) => (Some(rate(f)), None),
        Work::Bytes(b) => (None, Some(rate(b))),
    };
    Ok(KernelResult {
        kernel: case.kernel.into(),
        pass: case.pass.into(),
        shape: case.shape.clone(),
        variant: String::new(),
        gflops,
        gbps,
        ms_median: s.median,
        ms_min: s.min,
        ms_max: s.max,
        timing: if timestamps { "gpu-timestamps".into() } else { "wall".into() },
    })
}

#[cfg(test)]
mod tests {
    use super::timestamps_plausible;

    #[test]
    fn timestamps_that_are_not_time_are_refused() {
        // lavapipe: 5.1 ms more of 512³ products read 4.9 ms more GPU time; a GPU's launch
        // overheads leave less, but not under a tenth.
        assert!(timestamps_plausible(4.9, 5.1));
        assert!(timestamps_plausible(1.0, 6.0));
        // Wine's GL: zero, or 3e-4 ms for the same work.
        assert!(!timestamps_plausible(0.0, 5.0));
        assert!(!timestamps_plausible(0.0003, 5.2));
    }
}
