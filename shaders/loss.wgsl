// Classification losses over a batch of n examples, with their gradients and correctness.
//
//   bce_fwd  loss_i = max(z, 0) - z·y + log(1 + e^-|z|),  correct_i = [(z > 0) == (y > ½)]
//   bce_bwd  dz_i = (σ(z) - y) · scale                       scale = dLoss / n for a mean
//   ce_fwd   loss_i = logsumexp(z_i) - z_i[y_i],  correct_i = [argmax z_i == y_i]
//   ce_bwd   dz_i = (softmax(z_i) - onehot(y_i)) · scale
//   *_bwd_scaled: the same, times the loss scale of mixed precision, which is read on the GPU
//            from word `scale_at` of the optimizer's control words (adamw.wgsl), where the
//            steps before left it
//
// Labels are f32: 0/1 for binary, the class index for softmax. Means and accuracy are the
// per-example values summed by reduce.wgsl (sum_final), so only two floats are read back.

struct Params {
    n: u32,
    classes: u32,
    scale: f32,
    scale_at: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;     // (n) or (n, classes)
@group(0) @binding(2) var<storage, read> labels: array<f32>;     // (n)
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;    // forward: (n)
@group(0) @binding(4) var<storage, read_write> correct: array<f32>; // forward: (n)
@group(0) @binding(3) var<storage, read_write> dlogits: array<f32>; // backward, assigned
@group(0) @binding(4) var<storage, read> control: array<u32>;        // backward, scaled

fn sigmoid(z: f32) -> f32 {
    // Both branches are exp of a non-positive number: no overflow.
    if z >= 0.0 { return 1.0 / (1.0 + exp(-z)); }
    let e = exp(z);
    return e / (1.0 + e);
}

@compute @workgroup_size(64)
fn bce_fwd(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= p.n { return; }
    let z = logits[i];
    let y = labels[i];
    loss[i] = max(z, 0.0) - z * y + log(1.0 + exp(-abs(z)));
    correct[i] = select(0.0, 1.0, (z > 0.0) == (y > 0.5));
}

fn bce_grad(i: u32, scale: f32) {
    dlogits[i] = (sigmoid(logits[i]) - labels[i]) * scale;
}

@compute @workgroup_size(64)
fn bce_bwd(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x < p.n { bce_grad(gid.x, p.scale); }
}

@compute @workgroup_size(64)
fn bce_bwd_scaled(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x < p.n { bce_grad(gid.x, p.scale * bitcast<f32>(control[p.scale_at])); }
}

@compute @workgroup_size(64)
fn ce_fwd(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= p.n { return; }
    let base = i * p.classes;
    var mx = logits[base];
    var arg = 0u;
    for (var k = 1u; k < p.classes; k++) {
        let v = logits[base + k];
        if v > mx { mx = v; arg = k; }
    }
    var s = 0.0;
    for (var k = 0u; k < p.classes; k++) { s += exp(logits[base + k] - mx); }
    let y = u32(labels[i]);
    loss[i] = log(s) + mx - logits[base + y];
    correct[i] = select(0.0, 1.0, arg == y);
}

fn ce_grad(i: u32, scale: f32) {
    let base = i * p.classes;
    var mx = logits[base];
    for (var k = 1u; k < p.classes; k++) { mx = max(mx, logits[base + k]); }
    var s = 0.0;
    for (var k = 0u; k < p.classes; k++) { s += exp(logits[base + k] - mx); }
    let y = u32(labels[i]);
    for (var k = 0u; k < p.classes; k++) {
        let sm = exp(logits[base + k] - mx) / s;
        dlogits[base + k] = (sm - select(0.0, 1.0, k == y)) * scale;
    }
}

@compute @workgroup_size(64)
fn ce_bwd(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x < p.n { ce_grad(gid.x, p.scale); }
}

@compute @workgroup_size(64)
fn ce_bwd_scaled(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x < p.n { ce_grad(gid.x, p.scale * bitcast<f32>(control[p.scale_at])); }
}
