// AdamW (decoupled weight decay, bias-corrected), as torch.optim.AdamW, with the global-norm
// gradient clip of clip_grad_norm_ folded in, over a whole arena of parameters at once:
//
//   g     = s·grad · min(1, max_norm / (s·‖all grads‖ + 1e-6))   (no clip when max_norm = 0)
//           s = grad_scale: 1, or 1/loss scale under mixed precision (the gradients are scaled)
//   p    -= lr · wd · decay[i / 64] · p      (decay: 1 or 0 per 64-element slot of the arena)
//   m     = β1 m + (1 - β1) g;   v = β2 v + (1 - β2) g²
//   p    -= (lr / bc1) · m / (√v / √bc2 + eps)              bc = 1 - βᵗ, computed on the host
//
// Elements before `first` are frozen (`--freeze-layers`: a parameter prefix of the arena) and
// left untouched; the grid covers [first, n).
//
// ‖all grads‖² is read from a one-element GPU buffer filled by reduce.wgsl, so the clip needs
// no read-back.
//
// Skipped steps (mixed precision): when status[0] is set (a gradient overflowed f16, see
// convert.wgsl) or, with CHECK, ‖all grads‖² is inf or NaN, nothing changes (parameters and
// moments keep their values, as torch.cuda.amp.GradScaler skips optimizer.step) and status[1]
// says so to the host, which reads it with the step's loss.

struct Params {
    n: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    bc1: f32,
    bc2: f32,
    max_norm: f32,
    grad_scale: f32,
    check: u32,
    first: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read> norm_sq: array<f32>;    // (1): Σ over all grads of g²
@group(0) @binding(3) var<storage, read_write> param: array<f32>;
@group(0) @binding(4) var<storage, read_write> m: array<f32>;
@group(0) @binding(5) var<storage, read_write> v: array<f32>;
@group(0) @binding(6) var<storage, read> decay: array<f32>;      // (⌈n / 64⌉)
@group(0) @binding(7) var<storage, read_write> status: array<u32>; // (2): overflow in, skipped out

@compute @workgroup_size(256)
fn adamw_step(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
    let k = (wg.y * nwg.x + wg.x) * 256u + li;
    let i = p.first + k;
    if i >= p.n { return; }
    // Exponent bits all ones: inf or NaN (tested on the bits; compilers may assume finite floats).
    let bad_norm = p.check != 0u && (bitcast<u32>(norm_sq[0]) & 0x7f800000u) == 0x7f800000u;
    let skip = status[0] != 0u || bad_norm;
    if k == 0u { status[1] = select(0u, 1u, skip); }
    if skip { return; }
    var clip = 1.0;
    if p.max_norm > 0.0 {
        clip = min(1.0, p.max_norm / (sqrt(norm_sq[0]) * p.grad_scale + 1e-6));
    }
    let g = grad[i] * p.grad_scale * clip;
    var w = param[i];
    w -= p.lr * p.weight_decay * decay[i / 64u] * w;
    let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
    let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = w - (p.lr / p.bc1) * mi / (sqrt(vi) / sqrt(p.bc2) + p.eps);
}
