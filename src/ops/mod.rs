//! The Rust face of each shader: shape checks, launch geometry, and the backward launches.
//!
//! `ops` knows shaders and the GPU, not the tape. Conventions (as in llm.c): `d` prefixes a
//! gradient; activation gradients are assigned, parameter gradients accumulate (`+=`), and each
//! function says which. Shapes use B (batch), T (tokens), C (hidden), NH (heads), HS (head size),
//! V (vocabulary), R (rows = B·T).

pub mod adamw;
pub mod attention;
pub mod attention_fused;
pub mod convert;
pub mod elementwise;
pub mod embedding;
pub mod gelu;
pub mod layernorm;
pub mod loss;
pub mod matmul;
pub mod reduce;
pub mod specializations;
pub mod tune;

use crate::gpu::{GpuError, Tensor};

/// Workgroup grid for `n` items at `per_group` items per workgroup, spread over x and y so that
/// no dimension exceeds 65535 (shaders recombine it as `wg.y * num_workgroups.x + wg.x`).
pub(crate) fn grid_1d(n: usize, per_group: usize) -> [u32; 3] {
    let groups = n.div_ceil(per_group).max(1);
    if groups <= 65535 {
        [groups as u32, 1, 1]
    } else {
        let y = groups.div_ceil(65535);
        [groups.div_ceil(y) as u32, y as u32, 1]
    }
}

pub(crate) fn f(v: f32) -> u32 {
    v.to_bits()
}

/// Checks that `t` holds exactly `n` elements, naming the op and the tensor otherwise.
pub(crate) fn expect_numel(op: &str, t: &Tensor, n: usize) -> Result<(), GpuError> {
    if t.numel() != n {
        return Err(GpuError::Shape(format!(
            "{op}: {} has {} elements {:?}, expected {n}",
            t.name(),
            t.numel(),
            t.shape()
        )));
    }
    Ok(())
}

/// Checks that `t` has `cols` as its last dimension and returns the number of rows.
pub(crate) fn rows_of(op: &str, t: &Tensor, cols: usize) -> Result<usize, GpuError> {
    match t.shape().last() {
        Some(&c) if c == cols && cols > 0 => Ok(t.numel() / cols),
        _ => Err(GpuError::Shape(format!(
            "{op}: {} has shape {:?}, expected last dimension {cols}",
            t.name(),
            t.shape()
        ))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn grid_covers_and_respects_limits() {
        for n in [1usize, 255, 256, 257, 65535 * 256, 65536 * 256, 11_720_448] {
            let g = super::grid_1d(n, 256);
            assert!(g[0] <= 65535 && g[1] <= 65535);
            assert!((g[0] as usize) * (g[1] as usize) * 256 >= n, "{n}: {g:?}");
        }
    }
}
