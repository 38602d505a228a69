//! The fused attention of attention.wgsl, for CPU adapters: no (T, T) score matrix; the forward
//! saves the per-row log-sum-exp, the backward recomputes the probabilities from it.

use std::sync::Arc;

use super::{f, grid_1d};
use crate::gpu::{Arg, Gpu, GpuError, Kernel, Shader, Tensor};
use crate::kernel_args::{AttentionShape, ProbDropout};

/// Uniform windows are 64 KiB; every packed buffer keeps that much tail so the last one fits.
const WINDOW: u64 = 65536;
const WINDOW_FLOATS: usize = (WINDOW / 4) as usize;

/// Whether the fused path can run this shape on this adapter: head size a multiple of 4 up to
/// 64, and one head's K (T·HS) and one mask row within a 64 KiB uniform window.
pub fn supported(gpu: &Gpu, s: &AttentionShape) -> bool {
    s.hs.is_multiple_of(4)
        && s.hs <= 64
        && s.t * s.hs * 4 <= WINDOW as usize
        && gpu.limits().max_uniform_buffer_binding_size >= WINDOW
}

fn round64(n: usize) -> usize {
    n.div_ceil(64) * 64
}

struct Geometry {
    s: AttentionShape,
    head_stride: usize,
    row_stride: usize,
}

impl Geometry {
    fn new(s: AttentionShape) -> Geometry {
        Geometry { s, head_stride: round64(s.t * s.hs), row_stride: round64(s.t) }
    }

    /// Params of attention.wgsl; `z`, `ld`, `col` and `total` vary per launch.
    fn params(&self, z: usize, ld: usize, col: usize, total: usize, drop: Option<ProbDropout>) -> [u32; 13] {
        let s = &self.s;
        let (threshold, seed, keep) = crate::kernel_args::dropout_words(drop.map(|d| (d.p, d.seed)));
        let scale = 1.0 / (s.hs as f32).sqrt();
        [
            s.b as u32,
            s.t as u32,
            s.nh as u32,
            z as u32,
            ld as u32,
            col as u32,
            self.head_stride as u32,
            self.row_stride as u32,
            f(scale),
            threshold,
            seed,
            f(keep),
            total as u32,
        ]
    }

    /// `dropout`: whether the probabilities are dropped (without, no mask is drawn per score).
    fn constants(&self, dropout: bool) -> [(&'static str, f64); 2] {
        [("HS4", (self.s.hs / 4) as f64), ("DROPOUT", if dropout { 1.0 } else { 0.0 })]
    }

    /// Per-head copies (B·NH, T, HS) of columns [col, col + C) of `src` (B·T, ld).
    fn pack_heads(&self, gpu: &Arc<Gpu>, src: &Tensor, ld: usize, col: usize) -> Result<Tensor, GpuError> {
        let s = &self.s;
        let z = s.b * s.nh;
        let dst = gpu.empty("attention packed heads", &[z * self.head_stride + WINDOW_FLOATS])?;
        let total = z * s.t * s.hs;
        let c = self.constants(false);
        gpu.launch(
            &Kernel { shader: Shader::Attention, entry: "pack_heads", constants: &c },
            &self.params(0, ld, col, total, None),
            &[Arg::R(src), Arg::W(&dst)],
            grid_1d(total, 256),
        )?;
        Ok(dst)
    }

    /// `rows` vectors of length T from src[col..], row_stride apart.
    fn pack_rows(&self, gpu: &Arc<Gpu>, src: &Tensor, col: usize, rows: usize) -> Result<Tensor, GpuError> {
        let dst = gpu.empty("attention packed rows", &[rows * self.row_stride + WINDOW_FLOATS])?;
        let total = rows * self.s.t;
        let c = self.constants(false);
        gpu.launch(
            &Kernel { shader: Shader::Attention, entry: "pack_rows", constants: &c },
            &self.params(0, 0, col, total, None),
            &[Arg::R(src), Arg::W(&dst)],
            grid_1d(total, 256),
        )?;
        Ok(dst)
    }

    fn head_window(&self, z: usize) -> u64 {
        (z * self.head_stride * 4) as u64
    }

    fn row_window(&self, r: usize) -> u64 {
        (r * self.row_stride * 4) as u64
    }
}

/// Returns ctx (B·T, C) and stats (3, B·NH, T): each query row's max score and log of its
/// softmax denominator (the third part is the backward's scratch).
pub fn forward(
    gpu: &Arc<Gpu>,
    s: AttentionShape,
    qkv: &Tensor,
    mask: &Tensor,
    drop: Option<ProbDropout>,
) -> Result<(Tensor, Tensor), GpuError> {
    let g = Geometry::new(s);
    let c = s.c();
    let kp = g.pack_heads(gpu, qkv, 3 * c, c)?;
    let vp = g.pack_heads(gpu, qkv, 3 * c, 2 * c)?;
    let mp = g.pack_rows(gpu, mask, 0, s.b)?;
    let ctx = gpu.empty("attention context", &[s.b * s.t, c])?;
    let z_all = s.b * s.nh;
    let stats = gpu.empty("attention row statistics", &[3, z_all, s.t])?;
    let consts = g.constants(drop.is_some());
    let kernel = Kernel { shader: Shader::Attention, entry: "attn_fwd", constants: &consts };
    for z in 0..z_all {
        let (kw, bw) = (g.head_window(z), g.row_window(z / s.nh));
        gpu.launch(
            &kernel,
            &g.params(z, 0, 0, 0, drop),
            &[
                Arg::U(&kp, kw, WINDOW),
                Arg::U(&vp, kw, WINDOW),
                Arg::U(&mp, bw, WINDOW),
                Arg::R(qkv),
                Arg::W(&ctx),
                Arg::W(&stats),
            ],
            [s.t.div_ceil(64) as u32, 1, 1],
        )?;
    }
    Ok((ctx, stats))
}

/// dqkv (B·T, 3C), assigned, from the forward's ctx and stats.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    gpu: &Arc<Gpu>,
    s: AttentionShape,
    dctx: &Tensor,
    qkv: &Tensor,
    mask: &Tensor,
    ctx: &Tensor,
    stats: &Tensor,
    drop: Option<ProbDropout>,
) -> Result<Tensor, GpuError> {
    let g = Geometry::new(s);
    let c = s.c();
    let z_all = s.b * s.nh;
    let consts = g.constants(drop.is_some());
    let dqkv = gpu.empty("attention qkv gradient", &[s.b * s.t, 3 * c])?;
    {
        let kp = g.pack_heads(gpu, qkv, 3 * c, c)?;
        let vp = g.pack_heads(gpu, qkv, 3 * c, 2 * c)?;
        let mp = g.pack_rows(gpu, mask, 0, s.b)?;
        let kernel = Kernel { shader: Shader::Attention, entry: "attn_bwd_dq", constants: &consts };
        for z in 0..z_all {
            let (kw, bw) = (g.head_window(z), g.row_window(z / s.nh));
            gpu.launch(
                &kernel,
                &g.params(z, 0, 0, 0, drop),
                &[
                    Arg::U(&kp, kw, WINDOW),
                    Arg::U(&vp, kw, WINDOW),
                    Arg::U(&mp, bw, WINDOW),
                    Arg::R(qkv),
                    Arg::R(dctx),
                    Arg::R(ctx),
                    Arg::W(stats),
                    Arg::W(&dqkv),
                ],
                [s.t.div_ceil(64) as u32, 1, 1],
            )?;
        }
    }
    let qp = g.pack_heads(gpu, qkv, 3 * c, 0)?;
    let gp = g.pack_heads(gpu, dctx, c, 0)?;
    let xp = g.pack_rows(gpu, stats, 0, z_all)?;
    let lp = g.pack_rows(gpu, stats, z_all * s.t, z_all)?;
    let dp = g.pack_rows(gpu, stats, 2 * z_all * s.t, z_all)?;
    let kernel = Kernel { shader: Shader::Attention, entry: "attn_bwd_dkdv", constants: &consts };
    for z in 0..z_all {
        let (hw, rw) = (g.head_window(z), g.row_window(z));
        gpu.launch(
            &kernel,
            &g.params(z, 0, 0, 0, drop),
            &[
                Arg::U(&qp, hw, WINDOW),
                Arg::U(&gp, hw, WINDOW),
                Arg::U(&xp, rw, WINDOW),
                Arg::U(&lp, rw, WINDOW),
                Arg::U(&dp, rw, WINDOW),
                Arg::R(qkv),
                Arg::R(mask),
                Arg::W(&dqkv),
            ],
            [s.t.div_ceil(64) as u32, 1, 1],
        )?;
    }
    Ok(dqkv)
}
