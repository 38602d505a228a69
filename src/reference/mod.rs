//! The CPU reference of every op: plain Rust in f64, written for clarity rather than speed.
//!
//! Tests compare each GPU kernel with these functions, and check these functions' backward
//! passes against finite differences of their forward passes. Layouts and shape names follow
//! `ops` (R rows, C columns, B·NH heads of T×T scores).

pub mod adamw;
pub mod attention;
pub mod elementwise;
pub mod embedding;
pub mod gelu;
pub mod layernorm;
pub mod loss;
pub mod loss_scale;
pub mod matmul;

/// f32 → f64 for reference inputs.
pub fn to_f64(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| v as f64).collect()
}
