//! The fused attention of attention.wgsl: no (T, T) score matrix; the forward saves each query
//! row's max score and log-sum-exp, the backward recomputes the probabilities from them. Two
//! builds of the same maths with the same saved statistics: `Kind::Windows` for CPU adapters
//! (one launch per head, the other side's rows in 64 KiB uniform windows) and `Kind::Tiles` for
//! GPUs (every head in one launch, the other side's rows staged through workgroup memory).

use std::sync::Arc;

use super::{f, grid_1d};
use crate::gpu::{Arg, Gpu, GpuError, Kernel, Shader, Tensor};
use crate::kernel_args::{AttentionShape, ProbDropout};

/// Uniform windows are 64 KiB; every packed buffer keeps that much tail so the last one fits.
const WINDOW: u64 = 65536;
const WINDOW_FLOATS: usize = (WINDOW / 4) as usize;
/// Workgroup memory of the tiled kernels: two (16, 64)-float tiles and 16 vec4s.
const TILES_BYTES: u32 = 2 * 16 * 64 * 4 + 16 * 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One launch per head, K/V (or Q/dO) read from uniform windows: CPU adapters.
    Windows,
    /// Every head in one launch, K/V (or Q/dO) staged through workgroup memory: GPUs.
    Tiles,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Windows, Kind::Tiles];

    /// `WGBERT_FUSED_ATTENTION=windows|tiles` decides, else the device type.
    pub fn for_gpu(gpu: &Gpu) -> Kind {
        match gpu.variant("fused_attention").as_deref() {
            Some("windows") => Kind::Windows,
            Some("tiles") => Kind::Tiles,
            _ if gpu.is_cpu() => Kind::Windows,
            _ => Kind::Tiles,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Windows => "windows",
            Kind::Tiles => "tiles",
        }
    }
}

/// Whether the fused path of this kind can run this shape on this adapter: head size a multiple
/// of 4 up to 64; for windows, one head's K (T·HS) and one mask row within a 64 KiB uniform
/// window; for tiles, its workgroup memory.
pub fn supported(gpu: &Gpu, s: &AttentionShape) -> bool {
    supported_as(gpu, Kind::for_gpu(gpu), s)
}

pub fn supported_as(gpu: &Gpu, kind: Kind, s: &AttentionShape) -> bool {
    let head = s.hs.is_multiple_of(4) && s.hs <= 64 && s.t > 0;
    head && match kind {
        Kind::Windows => s.t * s.hs * 4 <= WINDOW as usize && gpu.limits().max_uniform_buffer_binding_size >= WINDOW,
        Kind::Tiles => gpu.limits().max_compute_workgroup_storage_size >= TILES_BYTES,
    }
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

    /// The tiled kernels' grid: 64 rows per workgroup, a row of workgroups per head.
    fn tiles_grid(&self) -> Result<[u32; 3], GpuError> {
        let z = self.s.b * self.s.nh;
        if z > 65535 {
            return Err(crate::gpu::shape_err(format!(
                "attention: {z} heads (B·NH) exceed the 65535 a dispatch allows"
            )));
        }
        Ok([self.s.t.div_ceil(64) as u32, z as u32, 1])
    }

    fn head_window(&self, z: usize) -> u64 {
        (z * self.head_stride * 4) as u64
    }

    fn row_window(&self, r: usize) -> u64 {
        (r * self.row_stride * 4) as u64
    }
}

/// The build of attention.wgsl the per-head kernels run: rows shared through subgroup broadcasts
/// where subgroups are 8 lanes (`Gpu::shares_through_subgroups`), else loaded by every lane.
pub(crate) fn rows_shader(gpu: &Gpu) -> Shader {
    if gpu.shares_through_subgroups() {
        Shader::AttentionSubgroup
    } else {
        Shader::Attention
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
    if Kind::for_gpu(gpu) == Kind::Tiles {
        return forward_tiles(gpu, s, qkv, mask, drop);
    }
    let g = Geometry::new(s);
    let c = s.c();
    let kp = g.pack_heads(gpu, qkv, 3 * c, c)?;
    let vp = g.pack_heads(gpu, qkv, 3 * c, 2 * c)?;
    let mp = g.pack_rows(gpu, mask, 0, s.b)?;
    let ctx = gpu.empty("attention context", &[s.b * s.t, c])?;
    let z_all = s.b * s.nh;
    let stats = gpu.empty("attention row statistics", &[3, z_all, s.t])?;
    let consts = g.constants(drop.is_some());
    let kernel = Kernel { shader: rows_shader(gpu), entry: "attn_fwd", constants: &consts };
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
    if Kind::for_gpu(gpu) == Kind::Tiles {
        return backward_tiles(gpu, s, dctx, qkv, mask, ctx, stats, drop);
    }
    let g = Geometry::new(s);
    let c = s.c();
    let z_all = s.b * s.nh;
    let consts = g.constants(drop.is_some());
    let dqkv = gpu.empty("attention qkv gradient", &[s.b * s.t, 3 * c])?;
    {
        let kp = g.pack_heads(gpu, qkv, 3 * c, c)?;
        let vp = g.pack_heads(gpu, qkv, 3 * c, 2 * c)?;
        let mp = g.pack_rows(gpu, mask, 0, s.b)?;
        let kernel = Kernel { shader: rows_shader(gpu), entry: "attn_bwd_dq", constants: &consts };
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
    let kernel = Kernel { shader: rows_shader(gpu), entry: "attn_bwd_dkdv", constants: &consts };
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

/// The tiled forward: one launch for every head; the same ctx and statistics as the windows'.
fn forward_tiles(
    gpu: &Arc<Gpu>,
    s: AttentionShape,
    qkv: &Tensor,
    mask: &Tensor,
    drop: Option<ProbDropout>,
) -> Result<(Tensor, Tensor), GpuError> {
    let g = Geometry::new(s);
    let z_all = s.b * s.nh;
    let ctx = gpu.empty("attention context", &[s.b * s.t, s.c()])?;
    let stats = gpu.empty("attention row statistics", &[3, z_all, s.t])?;
    let consts = g.constants(drop.is_some());
    gpu.launch(
        &Kernel { shader: Shader::Attention, entry: "attn_fwd_tiles", constants: &consts },
        &g.params(0, 0, 0, 0, drop),
        &[Arg::R(qkv), Arg::R(mask), Arg::W(&stats), Arg::W(&ctx)],
        g.tiles_grid()?,
    )?;
    Ok((ctx, stats))
}

/// The tiled backward: dq (and each row's D) for every head in one launch, then dk and dv.
#[allow(clippy::too_many_arguments)]
fn backward_tiles(
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
    let dqkv = gpu.empty("attention qkv gradient", &[s.b * s.t, 3 * s.c()])?;
    let consts = g.constants(drop.is_some());
    let params = g.params(0, 0, 0, 0, drop);
    let grid = g.tiles_grid()?;
    gpu.launch(
        &Kernel { shader: Shader::Attention, entry: "attn_bwd_dq_tiles", constants: &consts },
        &params,
        &[Arg::R(qkv), Arg::R(mask), Arg::W(stats), Arg::R(dctx), Arg::W(&dqkv), Arg::R(ctx)],
        grid,
    )?;
    gpu.launch(
        &Kernel { shader: Shader::Attention, entry: "attn_bwd_dkdv_tiles", constants: &consts },
        &params,
        &[Arg::R(qkv), Arg::R(mask), Arg::W(stats), Arg::R(dctx), Arg::W(&dqkv)],
        grid,
    )?;
    Ok(dqkv)
}
