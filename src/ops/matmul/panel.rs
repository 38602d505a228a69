//! The panel variant of `gemm`: both operands packed into zero-padded 64 KiB panels, read
//! through uniform bindings, up to four K chunks per dispatch.

use std::sync::Arc;

use super::{Dims, Layout};
use crate::gpu::{shape_err, Arg, Gpu, GpuError, Kernel, Shader, Tensor};

/// Rows (of A) and columns (of B) per panel, and the depth of a panel: 128·128 f32 = 64 KiB,
/// the uniform binding limit of most adapters.
pub(super) const PANEL: usize = 128;
pub(super) const PANEL_K: usize = 128;
const PANEL_BYTES: u64 = (PANEL * PANEL_K * 4) as u64;
/// K chunks per panel dispatch (matmul.wgsl's PANEL_CHUNKS): 4 A + 4 B panels + the parameters
/// are 9 uniform bindings.
pub(super) const PANEL_CHUNKS: usize = 4;

/// The K chunks of one panel dispatch: the first chunk, how many, and the depth of the last
/// (PANEL_K except at the end of K). The shader reads that many rows of the last panel, so a
/// depth past PANEL_K would read outside its binding.
#[derive(Clone, Copy, Debug, PartialEq)]
struct ChunkRun {
    first: usize,
    count: usize,
    last_depth: usize,
}

fn chunk_runs(k: usize) -> impl Iterator<Item = ChunkRun> {
    let chunks = k.div_ceil(PANEL_K);
    (0..chunks).step_by(PANEL_CHUNKS).map(move |first| {
        let count = (chunks - first).min(PANEL_CHUNKS);
        ChunkRun { first, count, last_depth: (k - (first + count - 1) * PANEL_K).min(PANEL_K) }
    })
}

/// The panel variant: pack both operands into zero-padded panels, then one dispatch per
/// (batch, block of C, K chunk).
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm_panels(
    gpu: &Arc<Gpu>,
    shader: Shader,
    d: Dims,
    a: (&Tensor, Layout),
    b: (&Tensor, Layout),
    bias: &Tensor,
    c: (&Tensor, Layout),
    pre: &Tensor,
    params: &mut [u32; 27],
    constants: &[(&'static str, f64)],
) -> Result<(), GpuError> {
    let limits = gpu.limits();
    if limits.max_uniform_buffer_binding_size < PANEL_BYTES
        || (limits.max_uniform_buffers_per_shader_stage as usize) < 2 * PANEL_CHUNKS + 1
    {
        return Err(shape_err(
            "matmul: the panel variant needs 9 uniform bindings of 64 KiB per shader stage; choose reg or tiled",
        ));
    }
    let batches = d.nb1 * d.nb2;
    let (blocks_m, blocks_n, chunks) = (d.m.div_ceil(PANEL), d.n.div_ceil(PANEL), d.k.div_ceil(PANEL_K));
    let per = PANEL * PANEL_K;
    params[17] = blocks_m as u32;
    params[18] = blocks_n as u32;
    params[19] = chunks as u32;
    // pack_a reads A, pack_b reads B; both see the same bindings.
    let pack = |entry: &'static str, blocks: usize, aligned: bool, name: &str, params: &mut [u32; 27]| {
        let total = batches * blocks * chunks * per;
        let packed = gpu.empty(name, &[total])?;
        let tiles = total / 16;
        params[20] = tiles as u32;
        // The packing kernels ignore the epilogue: their pipelines stay one per layout.
        let mut pack_constants: Vec<_> =
            constants.iter().filter(|(k, _)| !matches!(*k, "EPILOGUE" | "SAVE_PRE")).copied().collect();
        pack_constants.push(("PACK_VEC4", if aligned { 1.0 } else { 0.0 }));
        gpu.launch(
            &Kernel { shader, entry, constants: &pack_constants },
            &params[..],
            &[Arg::R(a.0), Arg::R(b.0), Arg::W(&packed)],
            crate::ops::grid_1d(tiles, 256),
        )?;
        Ok::<_, GpuError>(packed)
    };
    let pa = pack("pack_a", blocks_m, a.1.vec4_aligned(), "matmul A panels", params)?;
    let pb = pack("pack_b", blocks_n, b.1.vec4_aligned(), "matmul B panels", params)?;
    let c_vec4 = c.1.vec4_aligned();
    let mut panel_constants = constants.to_vec();
    panel_constants.push(("C_VEC4", if c_vec4 { 1.0 } else { 0.0 }));
    // matmul_panel_sg shares A's values between lanes through subgroup broadcasts: 1.2-1.35x
    // matmul_panel's speed at 1024³ on lavapipe.
    let (kernel, grid) = if gpu.shares_through_subgroups() {
        (
            Kernel { shader: Shader::MatmulPanelSubgroup, entry: "matmul_panel_sg", constants: &panel_constants },
            [4, 1, 1],
        )
    } else {
        (Kernel { shader, entry: "matmul_panel", constants: &panel_constants }, [2, 2, 1])
    };
    for z in 0..batches {
        let (z1, z2) = (z / d.nb2, z % d.nb2);
        params[12] = (c.1.off + z1 * c.1.s1 + z2 * c.1.s2) as u32;
        for bm in 0..blocks_m {
            for bn in 0..blocks_n {
                for run in chunk_runs(d.k) {
                    params[21] = (bm * PANEL) as u32;
                    params[22] = (bn * PANEL) as u32;
                    params[23] = (run.first == 0) as u32;
                    params[24] = run.last_depth as u32;
                    params[25] = run.count as u32;
                    params[26] = (run.first + run.count == chunks) as u32;
                    // Slots past `run.count` repeat the last panel: bound, never read.
                    let panel =
                        |base: usize, i: usize| (((base * chunks) + run.first + i.min(run.count - 1)) * per * 4) as u64;
                    let mut args = Vec::with_capacity(2 * PANEL_CHUNKS + 3);
                    args.extend((0..PANEL_CHUNKS).map(|i| Arg::U(&pa, panel(z * blocks_m + bm, i), PANEL_BYTES)));
                    args.extend((0..PANEL_CHUNKS).map(|i| Arg::U(&pb, panel(z * blocks_n + bn, i), PANEL_BYTES)));
                    args.push(Arg::R(bias));
                    args.push(Arg::W(c.0));
                    args.push(Arg::W(pre));
                    gpu.launch(&kernel, &params[..], &args, grid)?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_runs_cover_k_once_and_never_read_past_a_panel() {
        for k in [1, 127, 128, 129, 384, 512, 513, 1100, 1536, 4096] {
            let runs: Vec<ChunkRun> = chunk_runs(k).collect();
            let mut next = 0;
            let mut depth = 0;
            for r in &runs {
                assert_eq!(r.first, next, "k={k}: runs must be contiguous");
                assert!((1..=PANEL_CHUNKS).contains(&r.count), "k={k}: {r:?}");
                assert!((1..=PANEL_K).contains(&r.last_depth), "k={k}: {r:?} reads past its panel");
                next += r.count;
                depth += (r.count - 1) * PANEL_K + r.last_depth;
            }
            assert_eq!(next, k.div_ceil(PANEL_K), "k={k}");
            assert_eq!(depth, k, "k={k}: the runs' depths must sum to K");
        }
    }
}
