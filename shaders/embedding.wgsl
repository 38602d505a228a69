// BERT embeddings: word + position + token type, gathered per token (before LayerNorm).
//
//   forward   out[t, c] = word[ids[t], c] + pos[t mod T, c] + type[types[t], c]   out: (B·T, C)
//   backward  dW[row, c] += Σ_{t in group(row)} dout[t, c]                         (accumulated)
//
// The backward has no atomics: the host, which holds the ids anyway, sorts the tokens of a
// batch by row (CSR: one group per distinct id, with its token list) and uploads that with the
// ids. Each invocation sums one column of one group in token order: deterministic. The same
// kernel serves the word, position and token-type tables.

struct Params {
    tokens: u32,  // B · T
    cols: u32,    // C
    seq: u32,     // T
    vocab: u32,   // rows of the word table (ids are clamped to it; the host validates them)
    groups: u32,  // backward: number of groups
    types: u32,   // rows of the token-type table
}

@group(0) @binding(0) var<uniform> p: Params;
// forward
@group(0) @binding(1) var<storage, read> ids: array<u32>;          // (B·T)
@group(0) @binding(2) var<storage, read> type_ids: array<u32>;     // (B·T)
@group(0) @binding(3) var<storage, read> word: array<f32>;         // (V, C)
@group(0) @binding(4) var<storage, read> pos: array<f32>;          // (P, C)
@group(0) @binding(5) var<storage, read> ttype: array<f32>;        // (TV, C)
@group(0) @binding(6) var<storage, read_write> out: array<f32>;    // (B·T, C)
// backward
@group(0) @binding(1) var<storage, read> group_rows: array<u32>;   // (G): table row of group g
@group(0) @binding(2) var<storage, read> group_start: array<u32>;  // (G + 1): offsets into members
@group(0) @binding(3) var<storage, read> members: array<u32>;      // (B·T): token indices, by group
@group(0) @binding(4) var<storage, read> dout: array<f32>;         // (B·T, C)
@group(0) @binding(5) var<storage, read_write> dtable: array<f32>; // (rows, C), accumulated

fn flat(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * 256u + li;
}

@compute @workgroup_size(256)
fn embed_fwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) li: u32) {
    let i = flat(wg, nwg, li);
    if i >= p.tokens * p.cols { return; }
    let t = i / p.cols;
    let c = i % p.cols;
    let id = min(ids[t], p.vocab - 1u);
    let ty = min(type_ids[t], p.types - 1u);
    out[i] = word[id * p.cols + c] + pos[(t % p.seq) * p.cols + c] + ttype[ty * p.cols + c];
}

@compute @workgroup_size(256)
fn embed_bwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) li: u32) {
    let i = flat(wg, nwg, li);
    if i >= p.groups * p.cols { return; }
    let g = i / p.cols;
    let c = i % p.cols;
    var s = 0.0;
    for (var j = group_start[g]; j < group_start[g + 1u]; j++) {
        s += dout[members[j] * p.cols + c];
    }
    let dst = group_rows[g] * p.cols + c;
    dtable[dst] += s;
}
