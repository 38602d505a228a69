// Attention softmax over the keys, in place on the score matrix.
//
//   forward   P = softmax(S · scale + (1 - mask) · f32::MIN)   S, P: (B·NH·Q, T), rows = queries
//   backward  dS = P ⊙ (dP - Σ_keys P ⊙ dP) · scale             written over dP
//
// mask is the attention mask (B, T) of 1 (token) and 0 (padding), as HF BertModel turns it into
// an additive bias with torch.finfo(float32).min. A sequence that is all padding gets the same
// uniform distribution HF gives it. The maximum is subtracted before exp: large inputs are safe.
// The scores come from matmul.wgsl (QKᵀ) and go back into it (P·V); see src/ops/attention.rs.

struct Params {
    rows: u32,            // B · NH · Q (Q = T queries, or 1 for the [CLS]-only attention)
    cols: u32,            // T (keys)
    rows_per_batch: u32,  // NH · Q: rows sharing one mask row
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> mask: array<f32>;          // (B, T)
@group(0) @binding(2) var<storage, read_write> s: array<f32>;       // forward: S in, P out
@group(0) @binding(1) var<storage, read> prob: array<f32>;          // backward: P
@group(0) @binding(2) var<storage, read_write> dp: array<f32>;      // backward: dP in, dS out

const F32_MIN: f32 = -3.4028234663852886e38; // exactly -f32::MAX: Tint refuses literals past it

fn row_id(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * 64u + li;
}

@compute @workgroup_size(64)
fn softmax_fwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
    let row = row_id(wg, nwg, li);
    if row >= p.rows { return; }
    let base = row * p.cols;
    let mbase = (row / p.rows_per_batch) * p.cols;
    var mx = F32_MIN;
    for (var j = 0u; j < p.cols; j++) {
        let v = s[base + j] * p.scale + (1.0 - mask[mbase + j]) * F32_MIN;
        s[base + j] = v;
        mx = max(mx, v);
    }
    var sum = 0.0;
    for (var j = 0u; j < p.cols; j++) {
        let e = exp(s[base + j] - mx);
        s[base + j] = e;
        sum += e;
    }
    let inv = 1.0 / sum;
    for (var j = 0u; j < p.cols; j++) {
        s[base + j] *= inv;
    }
}

@compute @workgroup_size(64)
fn softmax_bwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
    let row = row_id(wg, nwg, li);
    if row >= p.rows { return; }
    let base = row * p.cols;
    var dot = 0.0;
    for (var j = 0u; j < p.cols; j++) {
        dot += prob[base + j] * dp[base + j];
    }
    for (var j = 0u; j < p.cols; j++) {
        dp[base + j] = prob[base + j] * (dp[base + j] - dot) * p.scale;
    }
}
