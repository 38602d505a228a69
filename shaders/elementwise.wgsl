// Elementwise ops over n values, and the row gather/scatter the pooler needs.
//
//   add          out = a + b                     (residual connections)
//   axpy         y += alpha · x                  (gradient accumulation)
//   scale        y = alpha · x
//   dropout      y = x · keep(seed, i) / (1 - p) forward and backward alike: the mask is
//                                                recomputed from (seed, i), never stored
//   tanh_fwd     y = tanh(x);  tanh_bwd  dx = dy · (1 - y²) from the saved output y
//   gather_rows  out[r, c] = x[r · row_stride + c]       ([CLS] rows of (B, T, C))
//   scatter_rows_add  dx[r · row_stride + c] += dout[r, c]
//   mean_rows    out[b, c] = Σ_t m[b, t] · x[b, t, c] / max(Σ_t m[b, t], 1e-9)
//                                                (mean pooling over the tokens under the mask;
//                                                rows = B, cols = C, row_stride = T)
//   mean_rows_bwd  dx[b, t, c] = m[b, t] · dout[b, c] / max(Σ_t m[b, t], 1e-9)   (assigned;
//                                                one workgroup per token row)
//
// keep(seed, i) is a counter-based hash (PCG), so dropout needs no state and the CPU
// reference (src/reference/elementwise.rs) reproduces the very same mask.

struct Params {
    n: u32,
    alpha: f32,
    threshold: u32,   // dropout: drop when hash < threshold = p · 2³²
    seed: u32,
    rows: u32,
    cols: u32,
    row_stride: u32,
    keep_scale: f32,  // dropout: 1 / (1 - p)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
// add
@group(0) @binding(1) var<storage, read> add_a: array<f32>;
@group(0) @binding(2) var<storage, read> add_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> add_out: array<f32>;
// tanh_bwd
@group(0) @binding(1) var<storage, read> ty: array<f32>;
@group(0) @binding(2) var<storage, read> tdy: array<f32>;
@group(0) @binding(3) var<storage, read_write> tdx: array<f32>;

// mean_rows / mean_rows_bwd
@group(0) @binding(1) var<storage, read> mean_in: array<f32>;
@group(0) @binding(2) var<storage, read> mean_mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> mean_out: array<f32>;

fn flat(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * 256u + li;
}

fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

@compute @workgroup_size(256)
fn add(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) li: u32) {
    let i = flat(wg, nwg, li);
    if i >= p.n { return; }
    add_out[i] = add_a[i] + add_b[i];
}

@compute @workgroup_size(256)
fn axpy(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = flat(wg, nwg, li);
    if i >= p.n { return; }
    y[i] += p.alpha * x[i];
}

@compute @workgroup_size(256)
fn scale(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) li: u32) {
    let i = flat(wg, nwg, li);
    if i >= p.n { return; }
    y[i] = p.alpha * x[i];
}

@compute @workgroup_size(256)
fn dropout(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
    let i = flat(wg, nwg, li);
    if i >= p.n { return; }
    let h = pcg(pcg(i) ^ p.seed);
    y[i] = select(x[i] * p.keep_scale, 0.0, h < p.threshold);
}

@compute @workgroup_size(256)
fn tanh_fwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
    let i = flat(wg, nwg, li);
    if i >= p.n { return; }
    // Clamped: some backends compute tanh as a ratio of exponentials that overflows.
    y[i] = tanh(clamp(x[i], -15.0, 15.0));
}

@compute @workgroup_size(256)
fn tanh_bwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
    let i = flat(wg, nwg, li);
    if i >= p.n { return; }
    let t = ty[i];
    tdx[i] = tdy[i] * (1.0 - t * t);
}

@compute @workgroup_size(256)
fn gather_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
    let i = flat(wg, nwg, li);
    if i >= p.rows * p.cols { return; }
    let r = i / p.cols;
    let c = i % p.cols;
    y[i] = x[r * p.row_stride + c];
}

@compute @workgroup_size(256)
fn scatter_rows_add(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) li: u32) {
    let i = flat(wg, nwg, li);
    if i >= p.rows * p.cols { return; }
    let r = i / p.cols;
    let c = i % p.cols;
    y[r * p.row_stride + c] += x[i];
}

// The mask's sum over sequence b: the number of real tokens (sentence-transformers clamps it
// at 1e-9 so that an all-padding row gives zeros, not NaN).
fn mask_count(b: u32) -> f32 {
    var n = 0.0;
    for (var t = 0u; t < p.row_stride; t++) {
        n += mean_mask[b * p.row_stride + t];
    }
    return max(n, 1e-9);
}

@compute @workgroup_size(256)
fn mean_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) li: u32) {
    let i = flat(wg, nwg, li);
    if i >= p.rows * p.cols { return; }
    let b = i / p.cols;
    let c = i % p.cols;
    var s = 0.0;
    for (var t = 0u; t < p.row_stride; t++) {
        s += mean_mask[b * p.row_stride + t] * mean_in[(b * p.row_stride + t) * p.cols + c];
    }
    mean_out[i] = s / mask_count(b);
}

// One workgroup per token row (b, t): the workgroup counts sequence b's mask once, together,
// then writes the row's C gradients (B·T·T mask reads in all, not B·T·C·T).
var<workgroup> mean_partial: array<f32, 256>;

@compute @workgroup_size(256)
fn mean_rows_bwd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) li: u32) {
    let bt = wg.y * nwg.x + wg.x;
    if bt >= p.rows * p.row_stride { return; }  // whole workgroups only: uniform
    let b = bt / p.row_stride;
    var n = 0.0;
    for (var t = li; t < p.row_stride; t += 256u) {
        n += mean_mask[b * p.row_stride + t];
    }
    mean_partial[li] = n;
    workgroupBarrier();
    for (var half = 128u; half > 0u; half >>= 1u) {
        if li < half {
            mean_partial[li] += mean_partial[li + half];
        }
        workgroupBarrier();
    }
    let scale = mean_mask[bt] / max(mean_partial[0], 1e-9);
    for (var c = li; c < p.cols; c += 256u) {
        mean_out[bt * p.cols + c] = scale * mean_in[b * p.cols + c];
    }
}
