//! Dropout's counter-based mask (shared with the shader bit for bit) and tanh.

pub use crate::kernel_args::{dropout_threshold, keep, pcg};

pub fn dropout(x: &[f64], p: f32, seed: u32) -> Vec<f64> {
    let th = dropout_threshold(p);
    let s = 1.0 / (1.0 - p as f64);
    x.iter().enumerate().map(|(i, &v)| if keep(seed, i as u32, th) { v * s } else { 0.0 }).collect()
}
