//! Dropout's counter-based mask (shared with the shader bit for bit), tanh and mean pooling.

pub use crate::kernel_args::{dropout_threshold, keep, pcg};

pub fn dropout(x: &[f64], p: f32, seed: u32) -> Vec<f64> {
    let th = dropout_threshold(p);
    let s = 1.0 / (1.0 - p as f64);
    x.iter().enumerate().map(|(i, &v)| if keep(seed, i as u32, th) { v * s } else { 0.0 }).collect()
}

/// Σ_t m[b, t] · x[b, t, :] / max(Σ_t m[b, t], 1e-9): x (B, T, C), mask (B, T) → (B, C).
pub fn mean_tokens(x: &[f64], mask: &[f64], b: usize, t: usize) -> Vec<f64> {
    let c = x.len() / (b * t).max(1);
    let mut out = vec![0.0; b * c];
    for i in 0..b {
        let n = mask[i * t..(i + 1) * t].iter().sum::<f64>().max(1e-9);
        for j in 0..t {
            for k in 0..c {
                out[i * c + k] += mask[i * t + j] * x[(i * t + j) * c + k] / n;
            }
        }
    }
    out
}

/// The gradient of `mean_tokens`' input: dx[b, t, :] = m[b, t] · dy[b, :] / max(Σ_t m[b, t], 1e-9).
pub fn mean_tokens_backward(dy: &[f64], mask: &[f64], b: usize, t: usize) -> Vec<f64> {
    let c = dy.len() / b.max(1);
    let mut dx = vec![0.0; b * t * c];
    for i in 0..b {
        let n = mask[i * t..(i + 1) * t].iter().sum::<f64>().max(1e-9);
        for j in 0..t {
            for k in 0..c {
                dx[(i * t + j) * c + k] = mask[i * t + j] * dy[i * c + k] / n;
            }
        }
    }
    dx
}
