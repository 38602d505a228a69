//! Dropout's counter-based mask (shared with the shader bit for bit) and tanh.

/// The PCG hash of elementwise.wgsl.
pub fn pcg(v: u32) -> u32 {
    let state = v.wrapping_mul(747796405).wrapping_add(2891336453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277803737);
    (word >> 22) ^ word
}

/// Elements whose hash falls below this are dropped: p · 2³².
pub fn dropout_threshold(p: f32) -> u32 {
    ((p as f64) * 4294967296.0).min(u32::MAX as f64) as u32
}

pub fn keep(seed: u32, i: u32, threshold: u32) -> bool {
    pcg(pcg(i) ^ seed) >= threshold
}

pub fn dropout(x: &[f64], p: f32, seed: u32) -> Vec<f64> {
    let th = dropout_threshold(p);
    let s = 1.0 / (1.0 - p as f64);
    x.iter().enumerate().map(|(i, &v)| if keep(seed, i as u32, th) { v * s } else { 0.0 }).collect()
}
