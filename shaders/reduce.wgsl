// Reductions, all deterministic (fixed order, no atomics), in two passes where they are large.
//
//   col_sum_partial  part[chunk, c] = Σ_{rows of chunk} x[r, c]        x: (R, C)
//   col_sum_final    out[c] (+)= Σ_chunk part[chunk, c]                (bias / LayerNorm grads)
//   sumsq_partial    part[off + g] = Σ_{i in workgroup g's stride} x[i]²  (gradient norm)
//   sum_final        out[out_index] (+)= alpha · Σ_i x[i]               one workgroup

struct Params {
    rows: u32,
    cols: u32,
    chunk_rows: u32,
    chunks: u32,
    n: u32,
    out_index: u32,
    alpha: f32,
    part_offset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override ACCUMULATE: bool = false;

@compute @workgroup_size(64)
fn col_sum_partial(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = gid.x;
    let chunk = gid.y;
    if c >= p.cols { return; }
    let r0 = chunk * p.chunk_rows;
    let r1 = min(r0 + p.chunk_rows, p.rows);
    var s = 0.0;
    for (var r = r0; r < r1; r++) { s += x[r * p.cols + c]; }
    out[chunk * p.cols + c] = s;
}

@compute @workgroup_size(64)
fn col_sum_final(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = gid.x;
    if c >= p.cols { return; }
    var s = 0.0;
    for (var k = 0u; k < p.chunks; k++) { s += x[k * p.cols + c]; }
    if ACCUMULATE { s += out[c]; }
    out[c] = s;
}

const WG: u32 = 256u;
var<workgroup> red: array<f32, 256>;

fn tree_sum(li: u32, v: f32) -> f32 {
    red[li] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if li < s { red[li] += red[li + s]; }
        workgroupBarrier();
    }
    return red[0];
}

@compute @workgroup_size(256)
fn sumsq_partial(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) li: u32) {
    var s = 0.0;
    for (var i = wg.x * WG + li; i < p.n; i += nwg.x * WG) {
        let v = x[i];
        s += v * v;
    }
    let total = tree_sum(li, s);
    if li == 0u { out[p.part_offset + wg.x] = total; }
}

@compute @workgroup_size(256)
fn sum_final(@builtin(local_invocation_index) li: u32) {
    var s = 0.0;
    for (var i = li; i < p.n; i += WG) { s += x[i]; }
    let total = tree_sum(li, s) * p.alpha;
    if li == 0u {
        if ACCUMULATE { out[p.out_index] += total; } else { out[p.out_index] = total; }
    }
}
