// Fused attention for CPU adapters (lavapipe): softmax(Q·Kᵀ·scale + mask) · V without storing
// the (T, T) scores, and its backward, recomputing probabilities from a saved log-sum-exp.
//
// Why a separate path: on a CPU device a storage-buffer load is a loop over the SIMD lanes, but
// a uniform-buffer load at an address shared by all lanes is one scalar load. So one dispatch
// handles one head z = b·NH + h: each invocation owns one query row (forward, dQ) or one key row
// (dK, dV), and the other side's rows are read from 64 KiB uniform windows of per-head packed
// copies (pack_heads), at addresses that are the same for every lane. How a kernel fetches
// such a row (`k_row`, `v_row`, `q_row`, `g_row`) is its build's: each lane loading it
// (attention_rows.wgsl), or each lane loading a share of it for subgroupBroadcast to hand round
// (attention_rows_subgroup.wgsl). The GPU path (matmul.wgsl + softmax.wgsl, or the tiles kernels
// below) is the same maths; tests hold both to the CPU reference.
//
//   forward  s_ij = q_i·k_j·scale + (1 − mask_j)·f32::MIN;  m_i = max_j s_ij, λ_i = log Σ_j e^(s_ij − m_i)
//            o_i = Σ_j exp(s_ij − m_i − λ_i)·keep_ij·v_j        (keep: attention dropout)
//   backward D_i = dO_i·o_i;  P_ij = exp((s_ij − m_i) − λ_i);  dP_ij = (dO_i·v_j)·keep_ij
//
// m and λ are kept apart, not summed into one log-sum-exp: for an all-padding sequence every
// s_ij is f32::MIN, and f32::MIN + log T rounds back to f32::MIN, which would lose the 1/T.
//            dS_ij = P_ij (dP_ij − D_i)·scale;  dq_i = Σ_j dS_ij k_j;  dk_j = Σ_i dS_ij q_i
//            dv_j = Σ_i P_ij keep_ij dO_i

struct Params {
    b: u32, t: u32, nh: u32, z: u32,
    ld: u32,            // row stride of the source (3C for qkv, C for dctx)
    col: u32,           // first column of the source (0, C or 2C for Q, K, V)
    head_stride: u32,   // floats between heads in packed buffers (a multiple of 64)
    row_stride: u32,    // floats between batches/heads in packed per-row vectors (multiple of 64)
    scale: f32,
    drop_threshold: u32,
    drop_seed: u32,
    keep_scale: f32,    // 1/(1 − p), or 1 without dropout
    total: u32,
}

override HS4: u32 = 8u;   // head size / 4
const MAX_HS4: u32 = 16u;  // head size up to 64
const F32_MIN: f32 = -3.4028234663852886e38; // exactly -f32::MAX: Tint refuses literals past it

@group(0) @binding(0) var<uniform> p: Params;

fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// Dropout factor of probability (i, j) of head z: the mask elementwise.wgsl's dropout draws for
// element (z, i, j) of the (B·NH, T, T) probabilities.
// DROPOUT off (no dropout this call): no draw at all, the keep factor is 1.
override DROPOUT: bool = true;
fn keep(i: u32, j: u32) -> f32 {
    if !DROPOUT { return 1.0; }
    let idx = (p.z * p.t + i) * p.t + j;
    return select(p.keep_scale, 0.0, pcg(pcg(idx) ^ p.drop_seed) < p.drop_threshold);
}

// ---- packing: dst[z][t][d] = src[(b·T + t)·ld + col + h·HS + d], heads head_stride apart ----
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256)
fn pack_heads(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + li;
    if i >= p.total { return; }
    let hs = HS4 * 4u;
    let d = i % hs;
    let t = (i / hs) % p.t;
    let z = i / (hs * p.t);
    let b = z / p.nh;
    let h = z % p.nh;
    dst[z * p.head_stride + t * hs + d] = src[(b * p.t + t) * p.ld + p.col + h * hs + d];
}

// Per-row vectors (mask (B, T), or L / D (B·NH, T) starting at src[col]) with rows row_stride apart.
@compute @workgroup_size(256)
fn pack_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) li: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + li;
    if i >= p.total { return; }
    dst[(i / p.t) * p.row_stride + i % p.t] = src[p.col + i];
}

// ---- forward: one invocation per query row of head z ----
@group(0) @binding(1) var<uniform> kw: array<vec4<f32>, 4096>;   // K of head z (T, HS)
@group(0) @binding(2) var<uniform> vw: array<vec4<f32>, 4096>;   // V of head z (T, HS)
@group(0) @binding(3) var<uniform> mw: array<vec4<f32>, 4096>;   // mask row of batch b (T)
@group(0) @binding(4) var<storage, read> qkv: array<f32>;        // (B·T, 3C): Q is read per lane
@group(0) @binding(5) var<storage, read_write> ctx: array<f32>;  // (B·T, C)
@group(0) @binding(6) var<storage, read_write> stats: array<f32>;  // (3, B·NH, T): m, λ, then D

fn mask_bias(j: u32) -> f32 {
    let m = mw[j / 4u];
    return (1.0 - m[j % 4u]) * F32_MIN;
}

// A head-sized row, HS4 vec4s.
alias Row = array<vec4<f32>, MAX_HS4>;

fn row_dot(x: ptr<function, Row>, y: ptr<function, Row>) -> f32 {
    var s = 0.0;
    for (var d = 0u; d < HS4; d++) { s += dot((*x)[d], (*y)[d]); }
    return s;
}

// Score s_ij of this lane's query row q against key row j (its fetched kj).
fn score(q: ptr<function, Row>, kj: ptr<function, Row>, j: u32) -> f32 {
    return row_dot(q, kj) * p.scale + mask_bias(j);
}

// Every lane runs the loops, rows past T too (clamped, never stored): a subgroup build's
// broadcasts read every lane of the subgroup.
@compute @workgroup_size(64)
fn attn_fwd(t: Lane) {
    let live = t.gid.x < p.t;
    let i = min(t.gid.x, p.t - 1u);
    let lane = lane_of(t);
    let b = p.z / p.nh;
    let h = p.z % p.nh;
    let hs = HS4 * 4u;
    let c = p.nh * hs;
    let qbase = (b * p.t + i) * 3u * c + h * hs;
    var q: Row;
    for (var d = 0u; d < HS4; d++) {
        let e = qbase + d * 4u;
        q[d] = vec4<f32>(qkv[e], qkv[e + 1u], qkv[e + 2u], qkv[e + 3u]);
    }
    // One pass (online softmax): the running maximum, denominator and weighted sum of V are
    // rescaled as the maximum grows, so each score is computed once and K read once.
    var mx = F32_MIN;
    var l = 0.0;
    var o: Row;
    for (var j = 0u; j < p.t; j++) {
        var kj = k_row(j, lane);
        let sj = score(&q, &kj, j);
        let m2 = max(mx, sj);
        let r = exp(mx - m2);
        let e = exp(sj - m2);
        l = l * r + e;
        let w = e * keep(i, j);
        let vj = v_row(j, lane);
        for (var d = 0u; d < HS4; d++) { o[d] = o[d] * r + w * vj[d]; }
        mx = m2;
    }
    if !live { return; }
    let inv = 1.0 / l;
    let obase = (b * p.t + i) * c + h * hs;
    for (var d = 0u; d < HS4; d++) {
        let e = obase + d * 4u;
        let v = o[d] * inv;
        ctx[e] = v.x; ctx[e + 1u] = v.y; ctx[e + 2u] = v.z; ctx[e + 3u] = v.w;
    }
    let zt = p.b * p.nh * p.t;
    stats[p.z * p.t + i] = mx;
    stats[zt + p.z * p.t + i] = log(l);
}

// ---- backward, pass 1: one invocation per query row: D_i and dq_i ----
@group(0) @binding(5) var<storage, read> dctx: array<f32>;        // dO (B·T, C)
@group(0) @binding(6) var<storage, read> octx: array<f32>;        // O (B·T, C), the forward's ctx
@group(0) @binding(7) var<storage, read_write> bstats: array<f32>; // (3, B·NH, T): reads m, λ; writes D
@group(0) @binding(8) var<storage, read_write> dqkv: array<f32>;  // (B·T, 3C), assigned

fn load4(buf: u32, e: u32) -> vec4<f32> {
    if buf == 0u { return vec4<f32>(qkv[e], qkv[e + 1u], qkv[e + 2u], qkv[e + 3u]); }
    if buf == 1u { return vec4<f32>(dctx[e], dctx[e + 1u], dctx[e + 2u], dctx[e + 3u]); }
    return vec4<f32>(octx[e], octx[e + 1u], octx[e + 2u], octx[e + 3u]);
}

fn store_dqkv(e: u32, v: vec4<f32>) {
    dqkv[e] = v.x; dqkv[e + 1u] = v.y; dqkv[e + 2u] = v.z; dqkv[e + 3u] = v.w;
}

@compute @workgroup_size(64)
fn attn_bwd_dq(t: Lane) {
    let live = t.gid.x < p.t;
    let i = min(t.gid.x, p.t - 1u);
    let lane = lane_of(t);
    let b = p.z / p.nh;
    let h = p.z % p.nh;
    let hs = HS4 * 4u;
    let c = p.nh * hs;
    let row = b * p.t + i;
    var q: Row;
    var g: Row;
    var dd = 0.0;
    for (var d = 0u; d < HS4; d++) {
        q[d] = load4(0u, row * 3u * c + h * hs + d * 4u);
        g[d] = load4(1u, row * c + h * hs + d * 4u);
        dd += dot(g[d], load4(2u, row * c + h * hs + d * 4u));
    }
    let zt = p.b * p.nh * p.t;
    let mx = bstats[p.z * p.t + i];
    let lam = bstats[zt + p.z * p.t + i];
    if live { bstats[2u * zt + p.z * p.t + i] = dd; }
    var dq: Row;
    for (var j = 0u; j < p.t; j++) {
        var kj = k_row(j, lane);
        var vj = v_row(j, lane);
        let pr = exp((score(&q, &kj, j) - mx) - lam);
        let dp = row_dot(&g, &vj);
        let ds = pr * (dp * keep(i, j) - dd) * p.scale;
        for (var d = 0u; d < HS4; d++) { dq[d] += ds * kj[d]; }
    }
    if !live { return; }
    for (var d = 0u; d < HS4; d++) { store_dqkv(row * 3u * c + h * hs + d * 4u, dq[d]); }
}

// ---- backward, pass 2: one invocation per key row: dk_j and dv_j ----
@group(0) @binding(1) var<uniform> qw: array<vec4<f32>, 4096>;   // Q of head z (T, HS)
@group(0) @binding(2) var<uniform> gw: array<vec4<f32>, 4096>;   // dO of head z (T, HS)
@group(0) @binding(3) var<uniform> xw: array<vec4<f32>, 4096>;   // m of head z (T)
@group(0) @binding(4) var<uniform> lw: array<vec4<f32>, 4096>;   // λ of head z (T)
@group(0) @binding(5) var<uniform> dw: array<vec4<f32>, 4096>;   // D of head z (T)
@group(0) @binding(6) var<storage, read> kqkv: array<f32>;       // (B·T, 3C): k_j, v_j per lane
@group(0) @binding(7) var<storage, read> kmask: array<f32>;      // (B, T)
@group(0) @binding(8) var<storage, read_write> kdqkv: array<f32>; // (B·T, 3C), assigned

@compute @workgroup_size(64)
fn attn_bwd_dkdv(t: Lane) {
    let live = t.gid.x < p.t;
    let j = min(t.gid.x, p.t - 1u);
    let lane = lane_of(t);
    let b = p.z / p.nh;
    let h = p.z % p.nh;
    let hs = HS4 * 4u;
    let c = p.nh * hs;
    let row = b * p.t + j;
    var k: Row;
    var v: Row;
    for (var d = 0u; d < HS4; d++) {
        let e = row * 3u * c + h * hs + d * 4u;
        k[d] = vec4<f32>(kqkv[e + c], kqkv[e + c + 1u], kqkv[e + c + 2u], kqkv[e + c + 3u]);
        v[d] = vec4<f32>(kqkv[e + 2u * c], kqkv[e + 2u * c + 1u], kqkv[e + 2u * c + 2u], kqkv[e + 2u * c + 3u]);
    }
    let bias = (1.0 - kmask[row]) * F32_MIN;
    var dk: Row;
    var dv: Row;
    for (var i = 0u; i < p.t; i++) {
        var qi = q_row(i, lane);
        var gi = g_row(i, lane);
        let s = row_dot(&qi, &k);
        let dp = row_dot(&gi, &v);
        let mx = xw[i / 4u][i % 4u];
        let lam = lw[i / 4u][i % 4u];
        let dd = dw[i / 4u][i % 4u];
        let pr = exp((s * p.scale + bias - mx) - lam);
        let kp = keep(i, j);
        let ds = pr * (dp * kp - dd) * p.scale;
        for (var d = 0u; d < HS4; d++) {
            dv[d] += pr * kp * gi[d];
            dk[d] += ds * qi[d];
        }
    }
    if !live { return; }
    for (var d = 0u; d < HS4; d++) {
        let e = row * 3u * c + h * hs + d * 4u;
        kdqkv[e + c] = dk[d].x; kdqkv[e + c + 1u] = dk[d].y; kdqkv[e + c + 2u] = dk[d].z; kdqkv[e + c + 3u] = dk[d].w;
        kdqkv[e + 2u * c] = dv[d].x; kdqkv[e + 2u * c + 1u] = dv[d].y; kdqkv[e + 2u * c + 2u] = dv[d].z; kdqkv[e + 2u * c + 3u] = dv[d].w;
    }
}

// ---- GPU kernels: the same maths, every head in one launch ----
// Grid (ceil(T / 64), B·NH): workgroup (x, z) takes rows x·64.. of head z, one per invocation,
// and streams the other side's rows through workgroup memory ATILE at a time, read by every
// invocation at the same address (a broadcast on GPUs) instead of 64 KiB uniform windows per
// head. Rows are read as vec4s: the head size is a multiple of 4, and so are Q/K/V's columns.
const ATILE: u32 = 16u;
var<workgroup> tile_x: array<vec4<f32>, 256>;  // (ATILE, HS4): K rows (forward, dq) or Q rows (dk/dv)
var<workgroup> tile_y: array<vec4<f32>, 256>;  // (ATILE, HS4): V rows, or dO rows
var<workgroup> tile_s: array<vec4<f32>, 16>;   // per row of the tile: (mask bias) or (m, λ, D)

// Bindings 1-3 are common; the forward writes ctx at 4; the backward reads dO at 4, writes
// dqkv at 5, and dq reads the forward's O at 6.
@group(0) @binding(1) var<storage, read> gqkv: array<vec4<f32>>;           // (B·T, 3C)
@group(0) @binding(2) var<storage, read> gmask: array<f32>;                // (B, T)
@group(0) @binding(3) var<storage, read_write> gstats: array<f32>;         // (3, B·NH, T)
@group(0) @binding(4) var<storage, read_write> gctx: array<vec4<f32>>;     // (B·T, C), forward
@group(0) @binding(4) var<storage, read> gdctx: array<vec4<f32>>;          // dO (B·T, C), backward
@group(0) @binding(5) var<storage, read_write> gdqkv: array<vec4<f32>>;    // (B·T, 3C), backward
@group(0) @binding(6) var<storage, read> gout: array<vec4<f32>>;           // O (B·T, C), dq

// The dropout factor of probability (i, j) of head z (`keep` with z given).
fn keep_z(z: u32, i: u32, j: u32) -> f32 {
    if !DROPOUT { return 1.0; }
    let idx = (z * p.t + i) * p.t + j;
    return select(p.keep_scale, 0.0, pcg(pcg(idx) ^ p.drop_seed) < p.drop_threshold);
}

// Index of vec4 d of row `row` (of B·T) of Q (which 0), K (1) or V (2) of head h in gqkv.
fn qkv4(row: u32, which: u32, h: u32, d: u32) -> u32 {
    let c4 = p.nh * HS4;
    return row * 3u * c4 + which * c4 + h * HS4 + d;
}

// Index of vec4 d of row `row` of head h in a (B·T, C) tensor.
fn ctx4(row: u32, h: u32, d: u32) -> u32 {
    return row * p.nh * HS4 + h * HS4 + d;
}

// Stages K and V of keys j0.. of head (b, h) into tile_x / tile_y, and each key's mask bias.
fn stage_keys(li: u32, b: u32, h: u32, j0: u32) {
    for (var e = li; e < ATILE * HS4; e += 64u) {
        let j = j0 + e / HS4;
        let d = e % HS4;
        var kv = vec4<f32>(0.0);
        var vv = vec4<f32>(0.0);
        if j < p.t {
            kv = gqkv[qkv4(b * p.t + j, 1u, h, d)];
            vv = gqkv[qkv4(b * p.t + j, 2u, h, d)];
        }
        tile_x[e] = kv;
        tile_y[e] = vv;
    }
    if li < ATILE && j0 + li < p.t {
        tile_s[li] = vec4<f32>((1.0 - gmask[b * p.t + j0 + li]) * F32_MIN, 0.0, 0.0, 0.0);
    }
}

// The row this invocation owns: row i of head z = (b, h); `row` is its row of the (B·T, ...)
// tensors, clamped for the invocations past T (they stage tiles but write nothing).
struct HeadRow { z: u32, b: u32, h: u32, i: u32, live: bool, row: u32 }

fn row_of_head(wg: vec3<u32>, li: u32) -> HeadRow {
    let z = wg.y;
    let b = z / p.nh;
    let i = wg.x * 64u + li;
    return HeadRow(z, b, z % p.nh, i, i < p.t, b * p.t + min(i, p.t - 1u));
}

fn tile_dot(q: ptr<function, Row>, r: u32) -> f32 {
    var s = 0.0;
    for (var d = 0u; d < HS4; d++) { s += dot((*q)[d], tile_x[r * HS4 + d]); }
    return s;
}

@compute @workgroup_size(64)
fn attn_fwd_tiles(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let at = row_of_head(wg, li);
    let z = at.z;
    let b = at.b;
    let h = at.h;
    let i = at.i;
    let live = at.live;
    let row = at.row;
    var q: Row;
    for (var d = 0u; d < HS4; d++) { q[d] = gqkv[qkv4(row, 0u, h, d)]; }
    var mx = F32_MIN;
    var l = 0.0;
    var o: Row;
    for (var j0 = 0u; j0 < p.t; j0 += ATILE) {
        stage_keys(li, b, h, j0);
        workgroupBarrier();
        let n = min(ATILE, p.t - j0);
        for (var r = 0u; r < n; r++) {
            let sj = tile_dot(&q, r) * p.scale + tile_s[r].x;
            let m2 = max(mx, sj);
            let rescale = exp(mx - m2);
            let e = exp(sj - m2);
            l = l * rescale + e;
            let w = e * keep_z(z, i, j0 + r);
            for (var d = 0u; d < HS4; d++) { o[d] = o[d] * rescale + w * tile_y[r * HS4 + d]; }
            mx = m2;
        }
        workgroupBarrier();
    }
    if !live { return; }
    let inv = 1.0 / l;
    for (var d = 0u; d < HS4; d++) { gctx[ctx4(row, h, d)] = o[d] * inv; }
    let zt = p.b * p.nh * p.t;
    gstats[z * p.t + i] = mx;
    gstats[zt + z * p.t + i] = log(l);
}

@compute @workgroup_size(64)
fn attn_bwd_dq_tiles(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let at = row_of_head(wg, li);
    let z = at.z;
    let b = at.b;
    let h = at.h;
    let i = at.i;
    let live = at.live;
    let row = at.row;
    var q: Row;
    var g: Row;
    var dd = 0.0;
    for (var d = 0u; d < HS4; d++) {
        q[d] = gqkv[qkv4(row, 0u, h, d)];
        g[d] = gdctx[ctx4(row, h, d)];
        dd += dot(g[d], gout[ctx4(row, h, d)]);
    }
    let zt = p.b * p.nh * p.t;
    let zi = z * p.t + min(i, p.t - 1u);
    let mx = gstats[zi];
    let lam = gstats[zt + zi];
    var dq: Row;
    for (var j0 = 0u; j0 < p.t; j0 += ATILE) {
        stage_keys(li, b, h, j0);
        workgroupBarrier();
        let n = min(ATILE, p.t - j0);
        for (var r = 0u; r < n; r++) {
            let pr = exp(((tile_dot(&q, r) * p.scale + tile_s[r].x) - mx) - lam);
            var dp = 0.0;
            for (var d = 0u; d < HS4; d++) { dp += dot(g[d], tile_y[r * HS4 + d]); }
            let ds = pr * (dp * keep_z(z, i, j0 + r) - dd) * p.scale;
            for (var d = 0u; d < HS4; d++) { dq[d] += ds * tile_x[r * HS4 + d]; }
        }
        workgroupBarrier();
    }
    if !live { return; }
    gstats[2u * zt + zi] = dd;
    for (var d = 0u; d < HS4; d++) { gdqkv[qkv4(row, 0u, h, d)] = dq[d]; }
}

@compute @workgroup_size(64)
fn attn_bwd_dkdv_tiles(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let at = row_of_head(wg, li);
    let z = at.z;
    let b = at.b;
    let h = at.h;
    let j = at.i;
    let live = at.live;
    let row = at.row;
    var k: Row;
    var v: Row;
    for (var d = 0u; d < HS4; d++) {
        k[d] = gqkv[qkv4(row, 1u, h, d)];
        v[d] = gqkv[qkv4(row, 2u, h, d)];
    }
    let bias = (1.0 - gmask[row]) * F32_MIN;
    let zt = p.b * p.nh * p.t;
    var dk: Row;
    var dv: Row;
    for (var i0 = 0u; i0 < p.t; i0 += ATILE) {
        // Stage Q and dO of queries i0.., and each query's m, λ and D (written by dq before).
        for (var e = li; e < ATILE * HS4; e += 64u) {
            let i = i0 + e / HS4;
            let d = e % HS4;
            var qv = vec4<f32>(0.0);
            var gv = vec4<f32>(0.0);
            if i < p.t {
                qv = gqkv[qkv4(b * p.t + i, 0u, h, d)];
                gv = gdctx[ctx4(b * p.t + i, h, d)];
            }
            tile_x[e] = qv;
            tile_y[e] = gv;
        }
        if li < ATILE && i0 + li < p.t {
            let zi = z * p.t + i0 + li;
            tile_s[li] = vec4<f32>(gstats[zi], gstats[zt + zi], gstats[2u * zt + zi], 0.0);
        }
        workgroupBarrier();
        let n = min(ATILE, p.t - i0);
        for (var r = 0u; r < n; r++) {
            var s = 0.0;
            var dp = 0.0;
            for (var d = 0u; d < HS4; d++) {
                s += dot(tile_x[r * HS4 + d], k[d]);
                dp += dot(tile_y[r * HS4 + d], v[d]);
            }
            let st = tile_s[r];
            let pr = exp((s * p.scale + bias - st.x) - st.y);
            let kp = keep_z(z, i0 + r, j);
            let ds = pr * (dp * kp - st.z) * p.scale;
            for (var d = 0u; d < HS4; d++) {
                dv[d] += pr * kp * tile_y[r * HS4 + d];
                dk[d] += ds * tile_x[r * HS4 + d];
            }
        }
        workgroupBarrier();
    }
    if !live { return; }
    for (var d = 0u; d < HS4; d++) {
        gdqkv[qkv4(row, 1u, h, d)] = dk[d];
        gdqkv[qkv4(row, 2u, h, d)] = dv[d];
    }
}
