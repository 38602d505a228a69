// The feed-forward activation, elementwise over n values: GELU (two forms) or ReLU.
//
//   exact (BERT, HF "gelu"):  y = x · Φ(x) = ½ x (1 + erf(x/√2))        ACT = 0
//   tanh  (HF "gelu_new"):    y = ½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))   ACT = 1
//   relu:                     y = max(x, 0)                             ACT = 2
//   backward: dx = dy · y'(x), recomputed from the saved input x (assigned).
//
// activation() and activation_grad() are in activation.wgsl, appended to this file.

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;       // forward output
@group(0) @binding(2) var<storage, read> dy: array<f32>;            // backward: upstream gradient
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;      // backward: input gradient

override ACT: u32 = 0u;

fn flat(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * 256u + li;
}

@compute @workgroup_size(256)
fn gelu_fwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
    let i = flat(wg, nwg, li);
    if i >= p.n { return; }
    y[i] = activation(x[i], ACT);
}

@compute @workgroup_size(256)
fn gelu_bwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
    let i = flat(wg, nwg, li);
    if i >= p.n { return; }
    dx[i] = dy[i] * activation_grad(x[i], ACT);
}
