//! Initial values for parameters a checkpoint does not provide (pooler, classifier head).

use crate::data::sample::Rng;

/// `n` draws of N(0, std²) from a seeded generator (Box–Muller over `Rng`), as HF initialises
/// Linear weights with `initializer_range`.
pub fn normal_init(n: usize, std: f32, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let mut unit = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (0..n)
        .map(|_| {
            let (u1, u2) = (unit().max(1e-300), unit());
            ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32 * std
        })
        .collect()
}
