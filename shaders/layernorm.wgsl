// LayerNorm over the last dimension C of x (R, C), R = B·T rows.
//
//   forward   y = (x - mean) · rstd · gamma + beta;  saves mean and rstd (R) for the backward
//             (ln_fwd_add: x = dropout(a) + residual, computed here and saved when training)
//   backward  dx = rstd · (g - mean(g) - xhat · mean(g · xhat)),  g = dy · gamma  (assigned)
//             dgamma = Σ_rows dy · xhat, dbeta = Σ_rows dy                        (accumulated)
//
// Two ways to cover the rows: ln_fwd / ln_bwd_input give each row a workgroup of 64 invocations
// and tree-reduce its statistics in workgroup memory (GPUs: coalesced loads); ln_fwd_rows /
// ln_bwd_input_rows give each invocation a whole row, read as vec4s, with no workgroup memory
// and no barriers (CPU adapters, where a barrier costs more than the arithmetic: 4096x384
// forward 24.5 ms with workgroups on lavapipe). Parameter gradients are reduced in two passes (partial sums per chunk of rows here,
// then reduce.wgsl's col_sum_final), which keeps them deterministic without f32 atomics.

struct Params {
    rows: u32,
    cols: u32,
    eps: f32,
    chunk_rows: u32,   // ln_bwd_params_partial: rows per partial sum
    threshold: u32,    // ln_fwd_add dropout: drop when hash < threshold = p · 2³²
    seed: u32,
    keep_scale: f32,   // 1 / (1 - p)
}

@group(0) @binding(0) var<uniform> p: Params;

const WG: u32 = 64u;
var<workgroup> red_a: array<f32, 64>;
var<workgroup> red_b: array<f32, 64>;

// Sums red_a and red_b over the workgroup; every invocation gets both totals.
fn reduce2(li: u32, a: f32, b: f32) -> vec2<f32> {
    red_a[li] = a;
    red_b[li] = b;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if li < s {
            red_a[li] += red_a[li + s];
            red_b[li] += red_b[li + s];
        }
        workgroupBarrier();
    }
    let r = vec2<f32>(red_a[0], red_b[0]);
    workgroupBarrier();
    return r;
}

fn row_of(wg: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wg.y * nwg.x + wg.x;
}

// ---- forward ----
// ln_fwd normalizes x; ln_fwd_add normalizes s = dropout(a) + residual, the sub-layer output
// added to its input as BERT does before every LayerNorm but the embeddings', in the same pass
// (no separate add or dropout kernel, and s is written only when training: SAVE_SUM). The first
// pass puts each row's input into y, and the statistics and normalization then read y.
@group(0) @binding(1) var<storage, read> x: array<f32>;             // (R, C): x, or a for ln_fwd_add
@group(0) @binding(2) var<storage, read> gamma: array<f32>;         // (C)
@group(0) @binding(3) var<storage, read> beta: array<f32>;          // (C)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;       // (R, C)
@group(0) @binding(5) var<storage, read_write> mean_out: array<f32>;  // (R)
@group(0) @binding(6) var<storage, read_write> rstd_out: array<f32>;  // (R)
@group(0) @binding(7) var<storage, read> residual: array<f32>;      // (R, C), ln_fwd_add
@group(0) @binding(8) var<storage, read_write> sum_out: array<f32>; // (R, C) s, when SAVE_SUM

// ln_fwd_add: dropout on a (p.threshold, p.seed, p.keep_scale), and whether s is saved.
override DROPOUT: bool = false;
override SAVE_SUM: bool = false;

// The hash of elementwise.wgsl's dropout: the same (seed, index) drops the same element, so the
// backward drops the gradient with that kernel.
fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

fn dropped(v: f32, i: u32) -> f32 {
    if !DROPOUT { return v; }
    return select(v * p.keep_scale, 0.0, pcg(pcg(i) ^ p.seed) < p.threshold);
}

// Statistics and output of the row at `base` whose input is in y and sums to `total`.
fn normalize_row(li: u32, row: u32, base: u32, total: f32) {
    let mean = total / f32(p.cols);
    // Two passes (mean, then squared deviations) rather than E[x²] - mean²: no cancellation.
    var v = 0.0;
    for (var c = li; c < p.cols; c += WG) { let d = y[base + c] - mean; v += d * d; }
    let var_ = reduce2(li, v, 0.0).x / f32(p.cols);
    let rstd = inverseSqrt(var_ + p.eps);
    for (var c = li; c < p.cols; c += WG) {
        y[base + c] = (y[base + c] - mean) * rstd * gamma[c] + beta[c];
    }
    if li == 0u {
        mean_out[row] = mean;
        rstd_out[row] = rstd;
    }
}

@compute @workgroup_size(64)
fn ln_fwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
    let row = row_of(wg, nwg);
    if row >= p.rows { return; }   // uniform per workgroup
    let base = row * p.cols;
    var s = 0.0;
    for (var c = li; c < p.cols; c += WG) { let v = x[base + c]; y[base + c] = v; s += v; }
    normalize_row(li, row, base, reduce2(li, s, 0.0).x);
}

@compute @workgroup_size(64)
fn ln_fwd_add(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
    let row = row_of(wg, nwg);
    if row >= p.rows { return; }
    let base = row * p.cols;
    var s = 0.0;
    for (var c = li; c < p.cols; c += WG) {
        let v = dropped(x[base + c], base + c) + residual[base + c];
        y[base + c] = v;
        if SAVE_SUM { sum_out[base + c] = v; }
        s += v;
    }
    normalize_row(li, row, base, reduce2(li, s, 0.0).x);
}

// ---- forward, one row per invocation (C a multiple of 4) ----
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> gamma4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> beta4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read> residual4: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> sum_out4: array<vec4<f32>>;

fn hsum(v: vec4<f32>) -> f32 {
    return (v.x + v.y) + (v.z + v.w);
}

fn row_of_rows(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * WG + li;
}

fn dropped4(v: vec4<f32>, i4: u32) -> vec4<f32> {
    if !DROPOUT { return v; }
    let i = i4 * 4u;
    return vec4<f32>(dropped(v.x, i), dropped(v.y, i + 1u), dropped(v.z, i + 2u), dropped(v.w, i + 3u));
}

// `normalize_row` for a row per invocation, C/4 vec4s from `base`.
fn normalize_row4(row: u32, base: u32, total: vec4<f32>) {
    let c4 = p.cols / 4u;
    let mean = hsum(total) / f32(p.cols);
    var v = vec4<f32>(0.0);
    for (var c = 0u; c < c4; c++) { let d = y4[base + c] - mean; v += d * d; }
    let rstd = inverseSqrt(hsum(v) / f32(p.cols) + p.eps);
    for (var c = 0u; c < c4; c++) {
        y4[base + c] = (y4[base + c] - mean) * rstd * gamma4[c] + beta4[c];
    }
    mean_out[row] = mean;
    rstd_out[row] = rstd;
}

@compute @workgroup_size(64)
fn ln_fwd_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
    let row = row_of_rows(wg, nwg, li);
    if row >= p.rows { return; }
    let base = row * (p.cols / 4u);
    var s = vec4<f32>(0.0);
    for (var c = 0u; c < p.cols / 4u; c++) { let v = x4[base + c]; y4[base + c] = v; s += v; }
    normalize_row4(row, base, s);
}

@compute @workgroup_size(64)
fn ln_fwd_add_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) li: u32) {
    let row = row_of_rows(wg, nwg, li);
    if row >= p.rows { return; }
    let base = row * (p.cols / 4u);
    var s = vec4<f32>(0.0);
    for (var c = 0u; c < p.cols / 4u; c++) {
        let v = dropped4(x4[base + c], base + c) + residual4[base + c];
        y4[base + c] = v;
        if SAVE_SUM { sum_out4[base + c] = v; }
        s += v;
    }
    normalize_row4(row, base, s);
}

// ---- backward: input gradient ----
@group(0) @binding(1) var<storage, read> bx: array<f32>;          // x (R, C)
@group(0) @binding(2) var<storage, read> bgamma: array<f32>;      // (C)
@group(0) @binding(3) var<storage, read> bmean: array<f32>;       // (R)
@group(0) @binding(4) var<storage, read> brstd: array<f32>;       // (R)
@group(0) @binding(5) var<storage, read> dy: array<f32>;          // (R, C)
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;    // (R, C), assigned
// With DROPOUT (the backward of ln_fwd_add's dropout): dx dropped as the forward dropped a, the
// gradient of a, in the same pass.
@group(0) @binding(7) var<storage, read_write> dx_dropped: array<f32>;

@compute @workgroup_size(64)
fn ln_bwd_input(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) li: u32) {
    let row = row_of(wg, nwg);
    if row >= p.rows { return; }
    let base = row * p.cols;
    let mean = bmean[row];
    let rstd = brstd[row];
    var sg = 0.0;
    var sgx = 0.0;
    for (var c = li; c < p.cols; c += WG) {
        let g = dy[base + c] * bgamma[c];
        sg += g;
        sgx += g * (bx[base + c] - mean) * rstd;
    }
    let sums = reduce2(li, sg, sgx) / f32(p.cols);
    for (var c = li; c < p.cols; c += WG) {
        let xhat = (bx[base + c] - mean) * rstd;
        let g = dy[base + c] * bgamma[c];
        let d = rstd * (g - sums.x - xhat * sums.y);
        dx[base + c] = d;
        if DROPOUT { dx_dropped[base + c] = dropped(d, base + c); }
    }
}

// ---- backward: input gradient, one row per invocation (C a multiple of 4) ----
@group(0) @binding(1) var<storage, read> bx4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bgamma4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> dy4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> dx4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> dx_dropped4: array<vec4<f32>>;

@compute @workgroup_size(64)
fn ln_bwd_input_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) li: u32) {
    let row = row_of_rows(wg, nwg, li);
    if row >= p.rows { return; }
    let c4 = p.cols / 4u;
    let base = row * c4;
    let mean = bmean[row];
    let rstd = brstd[row];
    var sg = vec4<f32>(0.0);
    var sgx = vec4<f32>(0.0);
    for (var c = 0u; c < c4; c++) {
        let g = dy4[base + c] * bgamma4[c];
        sg += g;
        sgx += g * (bx4[base + c] - mean) * rstd;
    }
    let mg = hsum(sg) / f32(p.cols);
    let mgx = hsum(sgx) / f32(p.cols);
    for (var c = 0u; c < c4; c++) {
        let xhat = (bx4[base + c] - mean) * rstd;
        let g = dy4[base + c] * bgamma4[c];
        let d = rstd * (g - mg - xhat * mgx);
        dx4[base + c] = d;
        if DROPOUT { dx_dropped4[base + c] = dropped4(d, base + c); }
    }
}

// ---- backward: parameter gradients, first pass ----
@group(0) @binding(1) var<storage, read> px: array<f32>;            // x (R, C)
@group(0) @binding(2) var<storage, read> pmean: array<f32>;         // (R)
@group(0) @binding(3) var<storage, read> prstd: array<f32>;         // (R)
@group(0) @binding(4) var<storage, read> pdy: array<f32>;           // (R, C)
@group(0) @binding(5) var<storage, read_write> part_gamma: array<f32>;  // (chunks, C)
@group(0) @binding(6) var<storage, read_write> part_beta: array<f32>;   // (chunks, C)

// Grid: (ceil(C / 64), chunks). Each invocation sums one column over one chunk of rows.
@compute @workgroup_size(64)
fn ln_bwd_params_partial(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = gid.x;
    let chunk = gid.y;
    if c >= p.cols { return; }
    let r0 = chunk * p.chunk_rows;
    let r1 = min(r0 + p.chunk_rows, p.rows);
    var sg = 0.0;
    var sb = 0.0;
    for (var r = r0; r < r1; r++) {
        let d = pdy[r * p.cols + c];
        sg += d * (px[r * p.cols + c] - pmean[r]) * prstd[r];
        sb += d;
    }
    part_gamma[chunk * p.cols + c] = sg;
    part_beta[chunk * p.cols + c] = sb;
}

// ---- backward: parameter gradients, second pass ----
@group(0) @binding(1) var<storage, read> fpart_gamma: array<f32>;        // (chunks, C)
@group(0) @binding(2) var<storage, read> fpart_beta: array<f32>;         // (chunks, C)
@group(0) @binding(3) var<storage, read_write> dgamma: array<f32>;       // (C), accumulated
@group(0) @binding(4) var<storage, read_write> dbeta: array<f32>;        // (C), accumulated

// Grid: ceil(C / 64). Both sums in one launch (p.chunk_rows holds the number of chunks).
@compute @workgroup_size(64)
fn ln_bwd_params_final(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = gid.x;
    if c >= p.cols { return; }
    var sg = 0.0;
    var sb = 0.0;
    for (var k = 0u; k < p.chunk_rows; k++) {
        sg += fpart_gamma[k * p.cols + c];
        sb += fpart_beta[k * p.cols + c];
    }
    dgamma[c] += sg;
    dbeta[c] += sb;
}
