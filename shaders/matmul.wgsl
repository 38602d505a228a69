// Matrix multiply with transposes, two-level strided batches and a fused epilogue.
//
//   C[z] = alpha · op(A[z]) · op(B[z])  (+ bias)  (+ C[z] when ACCUMULATE)
//
// op(A) is (M, K), op(B) is (K, N), C is (M, N) with row stride ldc. With TRANS_A, A is stored
// (K, M) with row stride lda, else (M, K); likewise B. The batch index z = z1·nb2 + z2 has a
// stride per level for each operand, so attention's (B, NH) heads are read in place from the
// (B·T, 3C) Q/K/V projection without a permute.
//
// Backward of C = A·B (+ bias): dA = dC·Bᵀ and dB = Aᵀ·dC are this same kernel with the
// transpose flags flipped (and ACCUMULATE for parameter gradients); dbias is a column sum
// (reduce.wgsl). See src/ops/matmul.rs.
//
// Two variants with one interface:
//   matmul_reg   each invocation owns a 4x4 block of C in registers, no workgroup memory.
//                Best where workgroup memory and barriers are expensive (lavapipe, CPUs).
//   matmul_tiled a 64x64 tile of C per 16x16 workgroup, A and B staged through workgroup
//                memory in 16-deep slices. The usual GPU kernel.

struct Params {
    m: u32, n: u32, k: u32, nb2: u32,
    a_off: u32, lda: u32, a_s1: u32, a_s2: u32,
    b_off: u32, ldb: u32, b_s1: u32, b_s2: u32,
    c_off: u32, ldc: u32, c_s1: u32, c_s2: u32,
    alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;        // (N), read when HAS_BIAS
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override ACCUMULATE: bool = false;

// Strides of op(A) along m and k, and of op(B) along k and n.
fn a_strides() -> vec2<u32> {
    if TRANS_A { return vec2<u32>(1u, p.lda); }
    return vec2<u32>(p.lda, 1u);
}
fn b_strides() -> vec2<u32> {
    if TRANS_B { return vec2<u32>(1u, p.ldb); }
    return vec2<u32>(p.ldb, 1u);
}

fn store(cbase: u32, m: u32, n: u32, v: f32) {
    if m >= p.m || n >= p.n { return; }
    var r = p.alpha * v;
    if HAS_BIAS { r += bias[n]; }
    let i = cbase + m * p.ldc + n;
    if ACCUMULATE { r += c[i]; }
    c[i] = r;
}

fn store_row(cbase: u32, m: u32, n0: u32, v: vec4<f32>) {
    store(cbase, m, n0, v.x);
    store(cbase, m, n0 + 1u, v.y);
    store(cbase, m, n0 + 2u, v.z);
    store(cbase, m, n0 + 3u, v.w);
}

// Accumulators are separate variables, never an array: an array indexed in a loop may be
// placed in scratch memory (on lavapipe every access then becomes a gather or scatter).
fn store_block(cbase: u32, m0: u32, n0: u32, acc0: vec4<f32>, acc1: vec4<f32>, acc2: vec4<f32>, acc3: vec4<f32>) {
    store_row(cbase, m0, n0, acc0);
    store_row(cbase, m0 + 1u, n0, acc1);
    store_row(cbase, m0 + 2u, n0, acc2);
    store_row(cbase, m0 + 3u, n0, acc3);
}

struct Bases { a: u32, b: u32, c: u32 }

fn batch_bases(z: u32) -> Bases {
    let z1 = z / p.nb2;
    let z2 = z % p.nb2;
    return Bases(
        p.a_off + z1 * p.a_s1 + z2 * p.a_s2,
        p.b_off + z1 * p.b_s1 + z2 * p.b_s2,
        p.c_off + z1 * p.c_s1 + z2 * p.c_s2,
    );
}

@compute @workgroup_size(8, 8, 1)
fn matmul_reg(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let m0 = (wg.y * 8u + lid.y) * 4u;
    let n0 = (wg.x * 8u + lid.x) * 4u;
    if m0 >= p.m || n0 >= p.n { return; }
    let base = batch_bases(wg.z);
    let sa = a_strides();
    let sb = b_strides();
    // Rows and columns past the edge are clamped so that every load is in bounds; their
    // results are dropped by store(). This keeps the inner loop free of branches.
    let mlast = p.m - 1u;
    let nlast = p.n - 1u;
    let ra = vec4<u32>(min(m0, mlast), min(m0 + 1u, mlast), min(m0 + 2u, mlast), min(m0 + 3u, mlast)) * sa.x + base.a;
    let cb = vec4<u32>(min(n0, nlast), min(n0 + 1u, nlast), min(n0 + 2u, nlast), min(n0 + 3u, nlast)) * sb.y + base.b;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k = 0u; k < p.k; k++) {
        let ka = k * sa.y;
        let kb = k * sb.x;
        let av = vec4<f32>(a[ra.x + ka], a[ra.y + ka], a[ra.z + ka], a[ra.w + ka]);
        let bv = vec4<f32>(b[cb.x + kb], b[cb.y + kb], b[cb.z + kb], b[cb.w + kb]);
        acc0 += av.x * bv;
        acc1 += av.y * bv;
        acc2 += av.z * bv;
        acc3 += av.w * bv;
    }
    store_block(base.c, m0, n0, acc0, acc1, acc2, acc3);
}

const TILE: u32 = 64u;
const DEPTH: u32 = 16u;
var<workgroup> a_tile: array<f32, 1024>;  // (DEPTH, TILE): a_tile[kk * TILE + mm]
var<workgroup> b_tile: array<f32, 1024>;  // (DEPTH, TILE): b_tile[kk * TILE + nn]

@compute @workgroup_size(16, 16, 1)
fn matmul_tiled(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let base = batch_bases(wg.z);
    let sa = a_strides();
    let sb = b_strides();
    let tm0 = wg.y * TILE;
    let tn0 = wg.x * TILE;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < p.k; k0 += DEPTH) {
        // 1024 elements of each tile, 4 per invocation; consecutive invocations walk the
        // operand's contiguous dimension so the global loads coalesce.
        for (var i = 0u; i < 4u; i++) {
            let e = li + i * 256u;
            var mm: u32; var kk: u32;
            if TRANS_A { mm = e % TILE; kk = e / TILE; } else { kk = e % DEPTH; mm = e / DEPTH; }
            let gm = tm0 + mm;
            let gk = k0 + kk;
            var v = 0.0;
            if gm < p.m && gk < p.k { v = a[base.a + gm * sa.x + gk * sa.y]; }
            a_tile[kk * TILE + mm] = v;

            var nn: u32; var kb: u32;
            if TRANS_B { kb = e % DEPTH; nn = e / DEPTH; } else { nn = e % TILE; kb = e / TILE; }
            let gn = tn0 + nn;
            let gkb = k0 + kb;
            var w = 0.0;
            if gn < p.n && gkb < p.k { w = b[base.b + gkb * sb.x + gn * sb.y]; }
            b_tile[kb * TILE + nn] = w;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < DEPTH; kk++) {
            let ai = kk * TILE + lid.y * 4u;
            let bi = kk * TILE + lid.x * 4u;
            let av = vec4<f32>(a_tile[ai], a_tile[ai + 1u], a_tile[ai + 2u], a_tile[ai + 3u]);
            let bv = vec4<f32>(b_tile[bi], b_tile[bi + 1u], b_tile[bi + 2u], b_tile[bi + 3u]);
            acc0 += av.x * bv;
            acc1 += av.y * bv;
            acc2 += av.z * bv;
            acc3 += av.w * bv;
        }
        workgroupBarrier();
    }
    store_block(base.c, tm0 + lid.y * 4u, tn0 + lid.x * 4u, acc0, acc1, acc2, acc3);
}

// matmul_rows8: one subgroup-sized workgroup (8 invocations) owns 8 rows of C, each invocation
// 4 columns of them. The rows depend on the workgroup id alone, so every load of A is the same
// address across the workgroup (one scalar load on CPU devices, which run a workgroup as SIMD
// lanes); only B is gathered. 32 FMAs per 12 loads instead of 16 per 8.
@compute @workgroup_size(8, 1, 1)
fn matmul_rows8(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let m0 = wg.y * 8u;
    let n0 = wg.x * 32u + lid.x * 4u;
    let base = batch_bases(wg.z);
    let sa = a_strides();
    let sb = b_strides();
    let mlast = p.m - 1u;
    let nlast = p.n - 1u;
    let ra0 = vec4<u32>(min(m0, mlast), min(m0 + 1u, mlast), min(m0 + 2u, mlast), min(m0 + 3u, mlast)) * sa.x + base.a;
    let ra1 = vec4<u32>(min(m0 + 4u, mlast), min(m0 + 5u, mlast), min(m0 + 6u, mlast), min(m0 + 7u, mlast)) * sa.x + base.a;
    let cb = vec4<u32>(min(n0, nlast), min(n0 + 1u, nlast), min(n0 + 2u, nlast), min(n0 + 3u, nlast)) * sb.y + base.b;
    var c0 = vec4<f32>(0.0); var c1 = vec4<f32>(0.0); var c2 = vec4<f32>(0.0); var c3 = vec4<f32>(0.0);
    var c4 = vec4<f32>(0.0); var c5 = vec4<f32>(0.0); var c6 = vec4<f32>(0.0); var c7 = vec4<f32>(0.0);
    for (var k = 0u; k < p.k; k++) {
        let ka = k * sa.y;
        let kb = k * sb.x;
        let bv = vec4<f32>(b[cb.x + kb], b[cb.y + kb], b[cb.z + kb], b[cb.w + kb]);
        c0 += a[ra0.x + ka] * bv;
        c1 += a[ra0.y + ka] * bv;
        c2 += a[ra0.z + ka] * bv;
        c3 += a[ra0.w + ka] * bv;
        c4 += a[ra1.x + ka] * bv;
        c5 += a[ra1.y + ka] * bv;
        c6 += a[ra1.z + ka] * bv;
        c7 += a[ra1.w + ka] * bv;
    }
    if n0 >= p.n { return; }
    store_block(base.c, m0, n0, c0, c1, c2, c3);
    store_block(base.c, m0 + 4u, n0, c4, c5, c6, c7);
}
