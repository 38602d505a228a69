// Attention softmax over the keys, in place on the score matrix.
//
//   forward   P = softmax(S · scale + (1 - mask) · f32::MIN)   S, P: (B·NH·Q, T), rows = queries
//   backward  dS = P ⊙ (dP - Σ_keys P ⊙ dP) · scale             written over dP
//
// With DROPOUT (attention_probs_dropout_prob), in the same pass: the forward also writes
// P' = dropout(P), which multiplies V, and the backward takes dP' = dctx·Vᵀ and drops it with the
// same mask (elementwise.wgsl's hash of the element's index) before the softmax backward.
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
    threshold: u32,       // DROPOUT: drop when hash < threshold = p · 2³²
    seed: u32,
    keep_scale: f32,      // 1 / (1 - p)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> mask: array<f32>;          // (B, T)
@group(0) @binding(2) var<storage, read_write> s: array<f32>;       // forward: S in, P out
@group(0) @binding(1) var<storage, read> prob: array<f32>;          // backward: P
@group(0) @binding(2) var<storage, read_write> dp: array<f32>;      // backward: dP in, dS out
@group(0) @binding(3) var<storage, read_write> s_dropped: array<f32>;  // forward, DROPOUT: P'

override DROPOUT: bool = false;

// elementwise.wgsl's dropout hash: the same (seed, index) drops the same element.
fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

fn dropped(v: f32, i: u32) -> f32 {
    if !DROPOUT { return v; }
    return select(v * p.keep_scale, 0.0, pcg(pcg(i) ^ p.seed) < p.threshold);
}

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
        let v = s[base + j] * inv;
        s[base + j] = v;
        if DROPOUT { s_dropped[base + j] = dropped(v, base + j); }
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
        dot += prob[base + j] * dropped(dp[base + j], base + j);
    }
    for (var j = 0u; j < p.cols; j++) {
        dp[base + j] = prob[base + j] * (dropped(dp[base + j], base + j) - dot) * p.scale;
    }
}
