// The feed-forward activations, appended to gelu.wgsl (the elementwise kernels) and to
// matmul.wgsl (its epilogue) by src/gpu/kernel.rs: one definition for both.
//
//   kind 0, exact (BERT, HF "gelu"):  y = x · Φ(x) = ½ x (1 + erf(x/√2))
//   kind 1, tanh  (HF "gelu_new"):    y = ½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))
//   kind 2, relu:                     y = max(x, 0)
//
// WGSL has no erf. Φ is computed from erfc via Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7
// in erf); for x < 0 we use Φ(x) = ½ erfc(|x|/√2) directly, so the tail keeps its relative
// precision instead of cancelling in 1 + erf.

const SQRT_HALF: f32 = 0.70710678118654752;
const INV_SQRT_2PI: f32 = 0.39894228040143268;
const SQRT_2_OVER_PI: f32 = 0.79788456080286536;

// erfc(u) for u >= 0.
fn erfc_pos(u: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.3275911 * u);
    let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    return poly * exp(-u * u);
}

// Φ(x), the standard normal CDF.
fn phi(x: f32) -> f32 {
    let q = 0.5 * erfc_pos(abs(x) * SQRT_HALF);
    return select(1.0 - q, q, x < 0.0);
}

// tanh that stays finite: some backends compute it as a ratio of exponentials.
fn tanh_safe(v: f32) -> f32 {
    return tanh(clamp(v, -15.0, 15.0));
}

fn activation(v: f32, kind: u32) -> f32 {
    if kind == 2u { return max(v, 0.0); }
    if kind == 1u {
        return 0.5 * v * (1.0 + tanh_safe(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
    }
    return v * phi(v);
}

fn activation_grad(v: f32, kind: u32) -> f32 {
    if kind == 2u { return select(0.0, 1.0, v > 0.0); }
    if kind == 1u {
        let u = SQRT_2_OVER_PI * (v + 0.044715 * v * v * v);
        let t = tanh_safe(u);
        let du = SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * v * v);
        return 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * du;
    }
    return phi(v) + v * INV_SQRT_2PI * exp(-0.5 * v * v);
}
