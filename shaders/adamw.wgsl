// AdamW (decoupled weight decay, bias-corrected), as torch.optim.AdamW, with the global-norm
// gradient clip of clip_grad_norm_ folded in, over a whole arena of parameters at once:
//
//   g     = s·grad · min(1, max_norm / (s·‖all grads‖ + 1e-6))   (no clip when max_norm = 0)
//           s = 1, or 1/loss scale under mixed precision (the gradients are scaled)
//   p    -= lr · wd · decay[i / 64] · p      (decay: 1 or 0 per 64-element slot of the arena)
//   m     = β1 m + (1 - β1) g;   v = β2 v + (1 - β2) g²
//   p    -= (lr / bc1) · m / (√v / √bc2 + eps)              bc = 1 - βᵗ
//
// Elements before `first` are frozen (`--freeze-layers`: a parameter prefix of the arena) and
// left untouched; the grid covers [first, n).
//
// A step is two kernels. adamw_begin (one invocation) decides, from the control words below,
// what the step is: skipped or not, its t, s and bias corrections; then adamw_step updates each
// arena. Everything a step depends on from the steps before (t, the loss scale) lives in the
// control words on the GPU, so step n+1 can be queued before the host reads step n.
//
// Skipped steps (mixed precision): when, under loss scaling, ‖all grads‖² is inf or NaN (a
// gradient overflowed: the matmuls read a value past f16's range as inf), nothing changes
// (parameters, moments and t keep their values, as torch.cuda.amp.GradScaler skips
// optimizer.step) and the loss scale halves; GROWTH clean steps in a row double it
// (optim::loss_scale holds the host's copy, reference::loss_scale the same rules on the CPU).

// The control words (u32; f32 values by their bits), the layout of ops::adamw::control.
const SKIPPED = 0u;          // this step was skipped
const LOSS_SCALE = 1u;       // f32: what the next step's loss is multiplied by (1 in f32)
const CLEAN_STEPS = 2u;      // clean steps since the scale last changed
const SKIPPED_IN_A_ROW = 3u;
const STEPS = 4u;            // optimizer steps taken: t
const UNSCALE = 5u;          // f32: s of this step
const BC1 = 6u;              // f32: this step's bias corrections
const BC2 = 7u;

struct Begin {
    // Under loss scaling: the norm check, the scale's halving and growth.
    scaled: u32,
    growth: u32,
}

struct Params {
    n: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    max_norm: f32,
    first: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read> norm_sq: array<f32>;    // (1): Σ over all grads of g²
@group(0) @binding(3) var<storage, read_write> param: array<f32>;
@group(0) @binding(4) var<storage, read_write> m: array<f32>;
@group(0) @binding(5) var<storage, read_write> v: array<f32>;
@group(0) @binding(6) var<storage, read> decay: array<f32>;      // (⌈n / 64⌉)
@group(0) @binding(7) var<storage, read> control_in: array<u32>; // (9), after adamw_begin

@group(0) @binding(0) var<uniform> b: Begin;
@group(0) @binding(1) var<storage, read> begin_norm_sq: array<f32>; // (1), as norm_sq
@group(0) @binding(2) var<storage, read_write> control: array<u32>; // (9)
// (2T): 1 - β1ᵗ, 1 - β2ᵗ for t = 1..T, computed on the host in f64 (1 - β2ᵗ is small and
// would lose digits to an f32 pow).
@group(0) @binding(3) var<storage, read> corrections: array<f32>;

fn as_f32(w: u32) -> f32 { return bitcast<f32>(w); }
fn as_u32(x: f32) -> u32 { return bitcast<u32>(x); }

@compute @workgroup_size(1)
fn adamw_begin() {
    let scale = as_f32(control[LOSS_SCALE]);
    // Exponent bits all ones: inf or NaN (tested on the bits; compilers may assume finite floats).
    let bad_norm = b.scaled != 0u && (as_u32(begin_norm_sq[0]) & 0x7f800000u) == 0x7f800000u;
    let skip = bad_norm;
    control[SKIPPED] = select(0u, 1u, skip);
    control[UNSCALE] = as_u32(select(1.0, 1.0 / scale, b.scaled != 0u));
    if skip {
        if b.scaled != 0u {
            control[LOSS_SCALE] = as_u32(max(scale * 0.5, 1.17549435e-38));
            control[CLEAN_STEPS] = 0u;
            control[SKIPPED_IN_A_ROW] += 1u;
        }
        return;
    }
    let t = control[STEPS] + 1u;
    control[STEPS] = t;
    let k = min(t, arrayLength(&corrections) / 2u) - 1u;
    control[BC1] = as_u32(corrections[2u * k]);
    control[BC2] = as_u32(corrections[2u * k + 1u]);
    control[SKIPPED_IN_A_ROW] = 0u;
    if b.scaled != 0u {
        let clean = control[CLEAN_STEPS] + 1u;
        control[CLEAN_STEPS] = select(clean, 0u, clean == b.growth);
        if clean == b.growth {
            control[LOSS_SCALE] = as_u32(min(scale * 2.0, 1.70141173e38));
        }
    }
}

@compute @workgroup_size(256)
fn adamw_step(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
    let k = (wg.y * nwg.x + wg.x) * 256u + li;
    let i = p.first + k;
    if i >= p.n || control_in[SKIPPED] != 0u { return; }
    let s = as_f32(control_in[UNSCALE]);
    var clip = 1.0;
    if p.max_norm > 0.0 {
        clip = min(1.0, p.max_norm / (sqrt(norm_sq[0]) * s + 1e-6));
    }
    let g = grad[i] * s * clip;
    var w = param[i];
    w -= p.lr * p.weight_decay * decay[i / 64u] * w;
    let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
    let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    let bc1 = as_f32(control_in[BC1]);
    let bc2 = as_f32(control_in[BC2]);
    param[i] = w - (p.lr / bc1) * mi / (sqrt(vi) / sqrt(bc2) + p.eps);
}
