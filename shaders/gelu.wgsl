// The feed-forward activation, elementwise over n values: GELU (two forms) or ReLU.
//
//   exact (BERT, HF "gelu"):  y = x · Φ(x) = ½ x (1 + erf(x/√2))        ACT = 0
//   tanh  (HF "gelu_new"):    y = ½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))   ACT = 1
//   relu:                     y = max(x, 0)                             ACT = 2
//   backward: dx = dy · y'(x), recomputed from the saved input x (assigned).
//
// WGSL has no erf. Φ is computed from erfc via Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7
// in erf); for x < 0 we use Φ(x) = ½ erfc(|x|/√2) directly, so the tail keeps its relative
// precision instead of cancelling in 1 + erf.

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;       // forward output
@group(0) @binding(2) var<storage, read> dy: array<f32>;            // backward: upstream gradient
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;      // backward: input gradient

override ACT: u32 = 0u;

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

fn gelu(v: f32) -> f32 {
    if ACT == 2u { return max(v, 0.0); }
    if ACT == 1u {
        return 0.5 * v * (1.0 + tanh_safe(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
    }
    return v * phi(v);
}

fn gelu_grad(v: f32) -> f32 {
    if ACT == 2u { return select(0.0, 1.0, v > 0.0); }
    if ACT == 1u {
        let u = SQRT_2_OVER_PI * (v + 0.044715 * v * v * v);
        let t = tanh_safe(u);
        let du = SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * v * v);
        return 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * du;
    }
    return phi(v) + v * INV_SQRT_2PI * exp(-0.5 * v * v);
}

fn flat(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * 256u + li;
}

@compute @workgroup_size(256)
fn gelu_fwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
    let i = flat(wg, nwg, li);
    if i >= p.n { return; }
    y[i] = gelu(x[i]);
}

@compute @workgroup_size(256)
fn gelu_bwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
    let i = flat(wg, nwg, li);
    if i >= p.n { return; }
    dx[i] = dy[i] * gelu_grad(x[i]);
}
