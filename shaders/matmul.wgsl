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
// Three variants with one interface (src/ops/matmul.rs picks one per adapter):
//   matmul_reg   each invocation owns a 4x4 block of C in registers, no workgroup memory.
//   matmul_tiled a 64x64 tile of C per 16x16 workgroup, A and B staged through workgroup
//                memory in 16-deep slices. The usual GPU kernel.
//   matmul_panel for CPU devices (lavapipe). There every storage-buffer load is a loop over the
//                SIMD lanes (measured: ~1 GFLOP/s whatever the register tiling), while a
//                uniform-buffer load is a real vector gather (~10x faster). So A and B are first
//                packed (pack_a, pack_b) into 64 KiB panels of PANEL x PANEL_K, zero-padded, and
//                each dispatch multiplies one A panel by one B panel bound as uniform buffers,
//                accumulating one 128x128 block of C over the K chunks.

struct Params {
    m: u32, n: u32, k: u32, nb2: u32,
    a_off: u32, lda: u32, a_s1: u32, a_s2: u32,
    b_off: u32, ldb: u32, b_s1: u32, b_s2: u32,
    c_off: u32, ldc: u32, c_s1: u32, c_s2: u32,
    alpha: f32,
    // matmul_panel and the packing kernels only:
    blocks_m: u32, blocks_n: u32, chunks: u32, total: u32,
    m0: u32, n0: u32, first: u32, chunk_k: u32,
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

// ---- panel variant ----
const PANEL: u32 = 128u;    // rows of an A panel / columns of a B panel
const PANEL_K: u32 = 128u;  // depth of a panel: PANEL * PANEL_K floats = 64 KiB

@group(0) @binding(3) var<storage, read_write> packed: array<f32>;

// One invocation per packed element: panel (z, block, chunk), element (kk, i) = op(X)(row, k).
fn panel_coords(i: u32, blocks: u32) -> vec4<u32> {
    let per = PANEL * PANEL_K;
    let panel = i / per;
    let e = i % per;
    let z = panel / (blocks * p.chunks);
    let rem = panel % (blocks * p.chunks);
    // (z, row, k, _)
    return vec4<u32>(z, (rem / p.chunks) * PANEL + e % PANEL, (rem % p.chunks) * PANEL_K + e / PANEL, 0u);
}

@compute @workgroup_size(256)
fn pack_a(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + li;
    if i >= p.total { return; }
    let q = panel_coords(i, p.blocks_m);
    var v = 0.0;
    if q.y < p.m && q.z < p.k {
        let sa = a_strides();
        v = a[batch_bases(q.x).a + q.y * sa.x + q.z * sa.y];
    }
    packed[i] = v;
}

@compute @workgroup_size(256)
fn pack_b(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + li;
    if i >= p.total { return; }
    let q = panel_coords(i, p.blocks_n);   // row = column n of op(B)
    var v = 0.0;
    if q.y < p.n && q.z < p.k {
        let sb = b_strides();
        v = b[batch_bases(q.x).b + q.z * sb.x + q.y * sb.y];
    }
    packed[i] = v;
}

@group(0) @binding(1) var<uniform> pa: array<vec4<f32>, 4096>;  // (PANEL_K, PANEL): 4 rows of A per vec4
@group(0) @binding(2) var<uniform> pb: array<vec4<f32>, 4096>;  // (PANEL_K, PANEL): 4 columns of B per vec4

fn store_panel(m: u32, n: u32, v: f32) {
    if m >= p.m || n >= p.n { return; }
    let i = p.c_off + m * p.ldc + n;
    var r = p.alpha * v;
    if p.first == 1u {
        if HAS_BIAS { r += bias[n]; }
        if ACCUMULATE { r += c[i]; }
    } else {
        r += c[i];
    }
    c[i] = r;
}

fn store_panel_row(m: u32, n: u32, lo: vec4<f32>, hi: vec4<f32>) {
    store_panel(m, n, lo.x); store_panel(m, n + 1u, lo.y); store_panel(m, n + 2u, lo.z); store_panel(m, n + 3u, lo.w);
    store_panel(m, n + 4u, hi.x); store_panel(m, n + 5u, hi.y); store_panel(m, n + 6u, hi.z); store_panel(m, n + 7u, hi.w);
}

// A dispatch of 2x2 workgroups covers one 128x128 block of C; each invocation owns 8x8 of it:
// per step of k, 4 uniform loads feed 64 FMAs.
@compute @workgroup_size(8, 8, 1)
fn matmul_panel(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let mm = wg.y * 64u + lid.y * 8u;
    let nn = wg.x * 64u + lid.x * 8u;
    let ai = mm / 4u;
    let bi = nn / 4u;
    var r0l = vec4<f32>(0.0); var r0h = vec4<f32>(0.0); var r1l = vec4<f32>(0.0); var r1h = vec4<f32>(0.0);
    var r2l = vec4<f32>(0.0); var r2h = vec4<f32>(0.0); var r3l = vec4<f32>(0.0); var r3h = vec4<f32>(0.0);
    var r4l = vec4<f32>(0.0); var r4h = vec4<f32>(0.0); var r5l = vec4<f32>(0.0); var r5h = vec4<f32>(0.0);
    var r6l = vec4<f32>(0.0); var r6h = vec4<f32>(0.0); var r7l = vec4<f32>(0.0); var r7h = vec4<f32>(0.0);
    for (var kk = 0u; kk < p.chunk_k; kk++) {
        let row = kk * (PANEL / 4u);
        let a0 = pa[row + ai];
        let a1 = pa[row + ai + 1u];
        let bl = pb[row + bi];
        let bh = pb[row + bi + 1u];
        r0l += a0.x * bl; r0h += a0.x * bh;
        r1l += a0.y * bl; r1h += a0.y * bh;
        r2l += a0.z * bl; r2h += a0.z * bh;
        r3l += a0.w * bl; r3h += a0.w * bh;
        r4l += a1.x * bl; r4h += a1.x * bh;
        r5l += a1.y * bl; r5h += a1.y * bh;
        r6l += a1.z * bl; r6h += a1.z * bh;
        r7l += a1.w * bl; r7h += a1.w * bh;
    }
    let m = p.m0 + mm;
    let n = p.n0 + nn;
    store_panel_row(m, n, r0l, r0h);
    store_panel_row(m + 1u, n, r1l, r1h);
    store_panel_row(m + 2u, n, r2l, r2h);
    store_panel_row(m + 3u, n, r3l, r3h);
    store_panel_row(m + 4u, n, r4l, r4h);
    store_panel_row(m + 5u, n, r5l, r5h);
    store_panel_row(m + 6u, n, r6l, r6h);
    store_panel_row(m + 7u, n, r7l, r7h);
}

