// The panel variant of matmul.wgsl, for CPU adapters (appended to it: src/gpu/kernel.rs). Its
// interface, Params and helpers (Block, outer, batch_bases) are matmul.wgsl's; see there.
//
// ---- panel variant ----
const PANEL: u32 = 128u;    // rows of an A panel / columns of a B panel
const PANEL_K: u32 = 128u;  // depth of a panel: PANEL * PANEL_K floats = 64 KiB

// Packing: one invocation per 4x4 tile of a panel, written as 4 vec4s. Where the source's
// offsets and row stride are multiples of 4 (PACK_VEC4) and the tile lies inside the matrix, it
// is read as 4 vec4s too (transposed in registers when the panel runs across the source's rows):
// on lavapipe each load or store costs a pass over the SIMD lanes, vec4 or scalar alike.
@group(0) @binding(1) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> packed4: array<vec4<f32>>;
override PACK_VEC4: bool = false;

fn src1(from_b: bool, i: u32) -> f32 {
    if from_b { return widen(b4[i / 4u][i % 4u]); }
    return widen(a4[i / 4u][i % 4u]);
}
fn src4(from_b: bool, i: u32) -> vec4<f32> {
    if from_b { return widen4(b4[i / 4u]); }
    return widen4(a4[i / 4u]);
}

// Tile t of the panels of op(A) (from_b false; rows are m) or of op(B) (from_b true; rows are n).
// Element (row, k) of the operand is at base + row·sr + k·sk.
fn pack_tile(from_b: bool, t: u32) {
    let tiles = PANEL * PANEL_K / 16u;
    let panel = t / tiles;
    let e = t % tiles;
    var blocks = p.blocks_m;
    var rows = p.m;
    if from_b { blocks = p.blocks_n; rows = p.n; }
    let z = panel / (blocks * p.chunks);
    let rem = panel % (blocks * p.chunks);
    let lr = (e % (PANEL / 4u)) * 4u;       // first row of the tile within the panel
    let lk = (e / (PANEL / 4u)) * 4u;       // first k of the tile within the panel
    let r0 = (rem / p.chunks) * PANEL + lr;
    let k0 = (rem % p.chunks) * PANEL_K + lk;
    let bases = batch_bases(z);
    var base = bases.a;
    var sr = a_strides().x;
    var sk = a_strides().y;
    // The panel's vec4s run along rows: a direct copy when the source is contiguous along rows.
    var direct = TRANS_A;
    if from_b {
        base = bases.b;
        sr = b_strides().y;
        sk = b_strides().x;
        direct = !TRANS_B;
    }
    var v0 = vec4<f32>(0.0); var v1 = vec4<f32>(0.0); var v2 = vec4<f32>(0.0); var v3 = vec4<f32>(0.0);
    if PACK_VEC4 && r0 + 3u < rows && k0 + 3u < p.k {
        if direct {
            v0 = src4(from_b, base + r0 + k0 * sk);
            v1 = src4(from_b, base + r0 + (k0 + 1u) * sk);
            v2 = src4(from_b, base + r0 + (k0 + 2u) * sk);
            v3 = src4(from_b, base + r0 + (k0 + 3u) * sk);
        } else {
            let x0 = src4(from_b, base + r0 * sr + k0);
            let x1 = src4(from_b, base + (r0 + 1u) * sr + k0);
            let x2 = src4(from_b, base + (r0 + 2u) * sr + k0);
            let x3 = src4(from_b, base + (r0 + 3u) * sr + k0);
            v0 = vec4<f32>(x0.x, x1.x, x2.x, x3.x);
            v1 = vec4<f32>(x0.y, x1.y, x2.y, x3.y);
            v2 = vec4<f32>(x0.z, x1.z, x2.z, x3.z);
            v3 = vec4<f32>(x0.w, x1.w, x2.w, x3.w);
        }
    } else {
        // Edges and unaligned sources: element by element, zero outside the matrix.
        for (var i = 0u; i < 4u; i++) {
            let r = r0 + i;
            if r >= rows { break; }
            let at = base + r * sr + k0 * sk;
            if k0 < p.k { v0[i] = src1(from_b, at); }
            if k0 + 1u < p.k { v1[i] = src1(from_b, at + sk); }
            if k0 + 2u < p.k { v2[i] = src1(from_b, at + 2u * sk); }
            if k0 + 3u < p.k { v3[i] = src1(from_b, at + 3u * sk); }
        }
    }
    let out = (panel * PANEL * PANEL_K + lk * PANEL + lr) / 4u;
    packed4[out] = v0;
    packed4[out + PANEL / 4u] = v1;
    packed4[out + PANEL / 2u] = v2;
    packed4[out + 3u * PANEL / 4u] = v3;
}

@compute @workgroup_size(256)
fn pack_a(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
    let t = (wg.y * nwg.x + wg.x) * 256u + li;
    if t < p.total { pack_tile(false, t); }
}

@compute @workgroup_size(256)
fn pack_b(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
    let t = (wg.y * nwg.x + wg.x) * 256u + li;
    if t < p.total { pack_tile(true, t); }
}

// Up to PANEL_CHUNKS consecutive K chunks per dispatch, each an A and a B panel bound as its own
// 64 KiB uniform buffer. Every dispatch reads and writes its 128x128 block of C and costs a
// fixed launch on lavapipe, so covering 4 chunks at once (K = 512) cut 1024³ from ~220 to
// ~110 ms there. WGSL cannot index bindings, so the four loops are spelled out (a `switch` on
// the chunk inside one loop measured 3x slower).
const PANEL_CHUNKS: u32 = 4u;
@group(0) @binding(1) var<uniform> pa0: array<vec4<f32>, 4096>;  // (PANEL_K, PANEL): 4 rows of A per vec4
@group(0) @binding(2) var<uniform> pa1: array<vec4<f32>, 4096>;
@group(0) @binding(3) var<uniform> pa2: array<vec4<f32>, 4096>;
@group(0) @binding(4) var<uniform> pa3: array<vec4<f32>, 4096>;
@group(0) @binding(5) var<uniform> pb0: array<vec4<f32>, 4096>;  // (PANEL_K, PANEL): 4 columns of B per vec4
@group(0) @binding(6) var<uniform> pb1: array<vec4<f32>, 4096>;
@group(0) @binding(7) var<uniform> pb2: array<vec4<f32>, 4096>;
@group(0) @binding(8) var<uniform> pb3: array<vec4<f32>, 4096>;
@group(0) @binding(9) var<storage, read> panel_bias: array<f32>;
// C as vec4s: a vec4 store is one pass over the SIMD lanes where four scalar stores are four.
@group(0) @binding(10) var<storage, read_write> panel_c: array<vec4<f32>>;
@group(0) @binding(11) var<storage, read_write> panel_pre: array<vec4<f32>>;  // like C, when SAVE_PRE

// C_VEC4: C's offset and row stride are multiples of 4, so the 4 columns a vec4 covers are one
// aligned vec4 of panel_c.
override C_VEC4: bool = false;

// Depth of chunk i of this dispatch: full panels, except the last, which may be short.
fn chunk_depth(i: u32) -> u32 {
    if i + 1u == p.chunks_here { return p.chunk_k; }
    return PANEL_K;
}

// The value to store at C[i] for column n: alpha·v, plus the bias and the old C where due.
fn panel_value(i: u32, n: u32, v: f32) -> f32 {
    var r = p.alpha * v;
    if p.first == 1u {
        if HAS_BIAS { r += panel_bias[n]; }
        if ACCUMULATE { r += panel_c[i / 4u][i % 4u]; }
    } else {
        r += panel_c[i / 4u][i % 4u];
    }
    return finish(i, r);
}

// The epilogue activation, once C is complete (the last K run); the input saved for SAVE_PRE.
fn finish(i: u32, r: f32) -> f32 {
    if EPILOGUE == 0u || p.last == 0u { return r; }
    if SAVE_PRE { panel_pre[i / 4u][i % 4u] = r; }
    return activation(r, EPILOGUE - 1u);
}

fn finish4(j: u32, r: vec4<f32>) -> vec4<f32> {
    if EPILOGUE == 0u || p.last == 0u { return r; }
    if SAVE_PRE { panel_pre[j] = r; }
    let k = EPILOGUE - 1u;
    return vec4<f32>(activation(r.x, k), activation(r.y, k), activation(r.z, k), activation(r.w, k));
}

// Columns n..n+3 of row m.
fn store_panel4(m: u32, n: u32, v: vec4<f32>) {
    if m >= p.m { return; }
    let i = p.c_off + m * p.ldc + n;
    if C_VEC4 && n + 3u < p.n {
        var r = p.alpha * v;
        let keep = p.first == 0u || ACCUMULATE;
        if p.first == 1u && HAS_BIAS {
            r += vec4<f32>(panel_bias[n], panel_bias[n + 1u], panel_bias[n + 2u], panel_bias[n + 3u]);
        }
        if keep { r += panel_c[i / 4u]; }
        panel_c[i / 4u] = finish4(i / 4u, r);
        return;
    }
    for (var q = 0u; q < 4u; q++) {
        if n + q < p.n {
            panel_c[(i + q) / 4u][(i + q) % 4u] = panel_value(i + q, n + q, v[q]);
        }
    }
}

// A dispatch of 2x2 workgroups covers one 128x128 block of C over p.chunks_here K chunks;
// each invocation owns 8x8 of it: per step of k, 4 uniform loads feed 64 FMAs.
@compute @workgroup_size(8, 8, 1)
fn matmul_panel(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let mm = wg.y * 64u + lid.y * 8u;
    let nn = wg.x * 64u + lid.x * 8u;
    let ai = mm / 4u;
    let bi = nn / 4u;
    var acc: Block;
    for (var kk = 0u; kk < chunk_depth(0u); kk++) {
        let r = kk * (PANEL / 4u);
        outer(&acc, pa0[r + ai], pa0[r + ai + 1u], pb0[r + bi], pb0[r + bi + 1u]);
    }
    if p.chunks_here > 1u {
        for (var kk = 0u; kk < chunk_depth(1u); kk++) {
            let r = kk * (PANEL / 4u);
            outer(&acc, pa1[r + ai], pa1[r + ai + 1u], pb1[r + bi], pb1[r + bi + 1u]);
        }
    }
    if p.chunks_here > 2u {
        for (var kk = 0u; kk < chunk_depth(2u); kk++) {
            let r = kk * (PANEL / 4u);
            outer(&acc, pa2[r + ai], pa2[r + ai + 1u], pb2[r + bi], pb2[r + bi + 1u]);
        }
    }
    if p.chunks_here > 3u {
        for (var kk = 0u; kk < chunk_depth(3u); kk++) {
            let r = kk * (PANEL / 4u);
            outer(&acc, pa3[r + ai], pa3[r + ai + 1u], pb3[r + bi], pb3[r + bi + 1u]);
        }
    }
    let m = p.m0 + mm;
    let n = p.n0 + nn;
    store_panel4(m, n, acc.r0l); store_panel4(m, n + 4u, acc.r0h);
    store_panel4(m + 1u, n, acc.r1l); store_panel4(m + 1u, n + 4u, acc.r1h);
    store_panel4(m + 2u, n, acc.r2l); store_panel4(m + 2u, n + 4u, acc.r2h);
    store_panel4(m + 3u, n, acc.r3l); store_panel4(m + 3u, n + 4u, acc.r3h);
    store_panel4(m + 4u, n, acc.r4l); store_panel4(m + 4u, n + 4u, acc.r4h);
    store_panel4(m + 5u, n, acc.r5l); store_panel4(m + 5u, n + 4u, acc.r5h);
    store_panel4(m + 6u, n, acc.r6l); store_panel4(m + 6u, n + 4u, acc.r6h);
    store_panel4(m + 7u, n, acc.r7l); store_panel4(m + 7u, n + 4u, acc.r7h);
}
