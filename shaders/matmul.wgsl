// Matrix multiply with transposes, two-level strided batches and a fused epilogue.
//
//   C[z] = act(alpha · op(A[z]) · op(B[z])  (+ bias)  (+ C[z] when ACCUMULATE))
//
// act is the identity, or with EPILOGUE = kind + 1 the feed-forward activation of that kind
// (activation.wgsl, appended to this file); SAVE_PRE also writes its input to `pre`, which the
// backward needs. The FFN's first dense layer thus needs no separate GELU pass over its output.
//
// op(A) is (M, K), op(B) is (K, N), C is (M, N) with row stride ldc. With TRANS_A, A is stored
// (K, M) with row stride lda, else (M, K); likewise B. The batch index z = z1·nb2 + z2 has a
// stride per level for each operand, so attention's (B, NH) heads are read in place from the
// (B·T, 3C) Q/K/V projection without a permute.
//
// Backward of C = A·B (+ bias): dA = dC·Bᵀ and dB = Aᵀ·dC are this same kernel with the
// transpose flags flipped (and ACCUMULATE for parameter gradients); dbias is a column sum
// (reduce.wgsl). See src/ops/matmul/.
//
// Operands: every load of A and B goes through `widen`, which the build of this file defines
// (src/gpu/kernel.rs prepends it): the f32 build returns the element; the mixed-precision build
// (matmul_f16.wgsl) rounds it to f16, so its products multiply f16 operands without an f16 copy
// of them. Either way the products accumulate in f32; C, the bias and the packed panels are f32.
//
// Four variants with one interface (src/ops/matmul/mod.rs picks one per adapter and shape):
//   matmul_reg   each invocation owns a 4x4 block of C in registers, no workgroup memory.
//   matmul_tiled a 64x64 tile of C per 16x16 workgroup, A and B staged through workgroup
//                memory in 16-deep slices: the textbook GPU kernel.
//   matmul_wide  128x128 (or 64x64) tiles, 8x8 of C per invocation, vec4 workgroup reads:
//                the GPU kernel, made for the driver's compiler (below).
//   matmul_panel for CPU devices (lavapipe; in matmul_panel.wgsl, appended to this file).
//                There every storage-buffer load is a loop over the
//                SIMD lanes (measured: ~1 GFLOP/s whatever the register tiling), while a
//                uniform-buffer load is a real vector gather (~10x faster). So A and B are first
//                packed (pack_a, pack_b) into 64 KiB panels of PANEL x PANEL_K, zero-padded, and
//                each dispatch multiplies up to 4 A panels by 4 B panels bound as uniform
//                buffers, accumulating one 128x128 block of C over the K chunks.

struct Params {
    m: u32, n: u32, k: u32, nb2: u32,
    a_off: u32, lda: u32, a_s1: u32, a_s2: u32,
    b_off: u32, ldb: u32, b_s1: u32, b_s2: u32,
    c_off: u32, ldc: u32, c_s1: u32, c_s2: u32,
    alpha: f32,
    // matmul_panel and the packing kernels only:
    blocks_m: u32, blocks_n: u32, chunks: u32, total: u32,
    m0: u32, n0: u32, first: u32, chunk_k: u32,
    chunks_here: u32,
    last: u32,         // 1 on the dispatch that finishes C (the last K run): the activation's turn
    // the pair entry points only (below): the second product, op(A2)·op(B2) into c2
    q_m: u32, q_n: u32, q_k: u32, q_a_off: u32,
    q_lda: u32, q_b_off: u32, q_ldb: u32, q_c_off: u32,
    q_ldc: u32, q_alpha: f32,
    q_from: u32,       // the first workgroup of the second product
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;        // (N), read when HAS_BIAS
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
@group(0) @binding(5) var<storage, read_write> pre: array<f32>;     // like C, when SAVE_PRE

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override ACCUMULATE: bool = false;
override EPILOGUE: u32 = 0u;
override SAVE_PRE: bool = false;

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
    if EPILOGUE != 0u {
        if SAVE_PRE { pre[i] = r; }
        r = activation(r, EPILOGUE - 1u);
    }
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
        let av = vec4<f32>(widen(a[ra.x + ka]), widen(a[ra.y + ka]), widen(a[ra.z + ka]), widen(a[ra.w + ka]));
        let bv = vec4<f32>(widen(b[cb.x + kb]), widen(b[cb.y + kb]), widen(b[cb.z + kb]), widen(b[cb.w + kb]));
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
            if gm < p.m && gk < p.k { v = widen(a[base.a + gm * sa.x + gk * sa.y]); }
            a_tile[kk * TILE + mm] = v;

            var nn: u32; var kb: u32;
            if TRANS_B { kb = e % DEPTH; nn = e / DEPTH; } else { nn = e % TILE; kb = e / TILE; }
            let gn = tn0 + nn;
            let gkb = k0 + kb;
            var w = 0.0;
            if gn < p.n && gkb < p.k { w = widen(b[base.b + gkb * sb.x + gn * sb.y]); }
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

// An invocation's 8x8 block of C: row r's columns 0-3 in rNl, 4-7 in rNh.
struct Block {
    r0l: vec4<f32>, r0h: vec4<f32>, r1l: vec4<f32>, r1h: vec4<f32>,
    r2l: vec4<f32>, r2h: vec4<f32>, r3l: vec4<f32>, r3h: vec4<f32>,
    r4l: vec4<f32>, r4h: vec4<f32>, r5l: vec4<f32>, r5h: vec4<f32>,
    r6l: vec4<f32>, r6h: vec4<f32>, r7l: vec4<f32>, r7h: vec4<f32>,
}

// One step of k: rows a0 (4) and a1 (4) of A times columns bl (4) and bh (4) of B.
fn outer(acc: ptr<function, Block>, a0: vec4<f32>, a1: vec4<f32>, bl: vec4<f32>, bh: vec4<f32>) {
    (*acc).r0l = fma(vec4<f32>(a0.x), bl, (*acc).r0l); (*acc).r0h = fma(vec4<f32>(a0.x), bh, (*acc).r0h);
    (*acc).r1l = fma(vec4<f32>(a0.y), bl, (*acc).r1l); (*acc).r1h = fma(vec4<f32>(a0.y), bh, (*acc).r1h);
    (*acc).r2l = fma(vec4<f32>(a0.z), bl, (*acc).r2l); (*acc).r2h = fma(vec4<f32>(a0.z), bh, (*acc).r2h);
    (*acc).r3l = fma(vec4<f32>(a0.w), bl, (*acc).r3l); (*acc).r3h = fma(vec4<f32>(a0.w), bh, (*acc).r3h);
    (*acc).r4l = fma(vec4<f32>(a1.x), bl, (*acc).r4l); (*acc).r4h = fma(vec4<f32>(a1.x), bh, (*acc).r4h);
    (*acc).r5l = fma(vec4<f32>(a1.y), bl, (*acc).r5l); (*acc).r5h = fma(vec4<f32>(a1.y), bh, (*acc).r5h);
    (*acc).r6l = fma(vec4<f32>(a1.z), bl, (*acc).r6l); (*acc).r6h = fma(vec4<f32>(a1.z), bh, (*acc).r6h);
    (*acc).r7l = fma(vec4<f32>(a1.w), bl, (*acc).r7l); (*acc).r7h = fma(vec4<f32>(a1.w), bh, (*acc).r7h);
}

// ---- wide variants: the GPU kernel ----
// A BM x BN tile of C per workgroup of (BM/8)·(BN/8) invocations, each owning 8x8 of it in
// registers (rows ty·4.. and BM/2 + ty·4.., columns tx·4.. and BN/2 + tx·4..: neighbouring
// invocations read neighbouring vec4s of workgroup memory). Per slice of WIDE_K steps of k, A
// (stored transposed: a column of op(A) is contiguous) and B are staged through workgroup memory
// as vec4s; the k steps are spelled out so that every register index is a constant (a `for`
// becomes naga's `loop {}`, which drivers unroll poorly). Rows of the staged tiles are padded by
// one vec4 so that the transposing stores spread over the memory banks.
//   matmul_wide    128x128 tile, 256 invocations: large products.
//   matmul_wide64   64x64 tile,   64 invocations: four times the workgroups, for products with
//                  few tiles of 128 (the step's 4096 x 384 layers make 96 of them).
// ROW_SUMS: also row_sums[m] += alpha · Σ_k op(A)[m, k], from the first column of workgroups:
// with op(A) = dYᵀ that is a linear layer's bias gradient, beside its dW = dYᵀ·X, from the
// staged tiles the product reads anyway (no separate column-sum passes over dY).
//
// The pair (matmul_wide_pair, matmul_wide64_pair): a linear layer's whole backward in one
// launch. Workgroups [0, q_from) compute the first product (dW (+)= dYᵀ·X, with ROW_SUMS the
// bias gradient), the rest the second (dX (+)= dY·W into c2, its B from b2): both read dY from
// `a`. Besides saving a launch, the two fill the GPU together: dW has few tiles, each as deep as
// the batch's rows, and dX's many shallow tiles run beside them. With GRAD_EPILOGUE = kind + 1
// the second product is multiplied by the activation's derivative at `pre` (laid out like c2):
// the FFN's dX through its GELU, no separate pass.
override ROW_SUMS: bool = false;
override TRANS_A2: bool = false;
override TRANS_B2: bool = false;
override ACCUMULATE2: bool = false;
override GRAD_EPILOGUE: u32 = 0u;
@group(0) @binding(6) var<storage, read_write> row_sums: array<f32>;
@group(0) @binding(7) var<storage, read> b2: array<f32>;     // the pair's second B
@group(0) @binding(8) var<storage, read_write> c2: array<f32>;   // the pair's second C

// One product for `wide`: its extents, where op(A), op(B) and C start and how they are strided
// (op(A)[m, k] = a[a + m·a_m + k·a_k]), and which dimension of each is contiguous.
struct Product {
    m: u32, n: u32, k: u32,
    a: u32, a_m: u32, a_k: u32,
    b: u32, b_k: u32, b_n: u32,
    c: u32,
    a_along_m: bool,  // A is stored transposed: consecutive m are adjacent
    b_along_n: bool,  // B is stored untransposed: consecutive n are adjacent
    second: bool,     // the pair's second product: B from b2, C into c2
}

fn first_product(z: u32) -> Product {
    let base = batch_bases(z);
    let sa = a_strides();
    let sb = b_strides();
    return Product(p.m, p.n, p.k, base.a, sa.x, sa.y, base.b, sb.x, sb.y, base.c, TRANS_A, !TRANS_B, false);
}

fn second_product() -> Product {
    var sa = vec2<u32>(p.q_lda, 1u);
    if TRANS_A2 { sa = vec2<u32>(1u, p.q_lda); }
    var sb = vec2<u32>(p.q_ldb, 1u);
    if TRANS_B2 { sb = vec2<u32>(1u, p.q_ldb); }
    return Product(p.q_m, p.q_n, p.q_k, p.q_a_off, sa.x, sa.y, p.q_b_off, sb.x, sb.y, p.q_c_off, TRANS_A2, !TRANS_B2, true);
}

fn load_b(pr: Product, i: u32) -> f32 {
    if pr.second { return widen(b2[i]); }
    return widen(b[i]);
}

fn store_second(cbase: u32, m: u32, n: u32, v: f32) {
    if m >= p.q_m || n >= p.q_n { return; }
    let i = cbase + m * p.q_ldc + n;
    var r = p.q_alpha * v;
    if GRAD_EPILOGUE != 0u { r *= activation_grad(pre[i], GRAD_EPILOGUE - 1u); }
    if ACCUMULATE2 { r += c2[i]; }
    c2[i] = r;
}

fn store_product_row(pr: Product, m: u32, n0: u32, v: vec4<f32>) {
    if !pr.second {
        store_row(pr.c, m, n0, v);
        return;
    }
    store_second(pr.c, m, n0, v.x);
    store_second(pr.c, m, n0 + 1u, v.y);
    store_second(pr.c, m, n0 + 2u, v.z);
    store_second(pr.c, m, n0 + 3u, v.w);
}

const WIDE_K: u32 = 8u;
const WIDE_ROW: u32 = 33u;  // vec4s per staged row: 128 / 4, plus the pad
var<workgroup> wide_a: array<vec4<f32>, 264>;  // (WIDE_K, WIDE_ROW): wide_a[kk·WIDE_ROW + m/4][m%4]
var<workgroup> wide_b: array<vec4<f32>, 264>;  // (WIDE_K, WIDE_ROW): wide_b[kk·WIDE_ROW + n/4][n%4]

// Stages op(A)[tm0.., k0..] and op(B)[k0.., tn0..]; zero past the edges. Consecutive
// invocations walk each operand's contiguous dimension, so the global loads coalesce.
fn wide_stage(pr: Product, li: u32, threads: u32, bm: u32, bn: u32, tm0: u32, tn0: u32, k0: u32) {
    for (var e = li; e < bm * WIDE_K; e += threads) {
        var mm: u32; var kk: u32;
        if pr.a_along_m { mm = e % bm; kk = e / bm; } else { kk = e % WIDE_K; mm = e / WIDE_K; }
        let gm = tm0 + mm;
        let gk = k0 + kk;
        var v = 0.0;
        if gm < pr.m && gk < pr.k { v = widen(a[pr.a + gm * pr.a_m + gk * pr.a_k]); }
        wide_a[kk * WIDE_ROW + mm / 4u][mm % 4u] = v;
    }
    for (var e = li; e < bn * WIDE_K; e += threads) {
        var nn: u32; var kk: u32;
        if pr.b_along_n { nn = e % bn; kk = e / bn; } else { kk = e % WIDE_K; nn = e / WIDE_K; }
        let gn = tn0 + nn;
        let gk = k0 + kk;
        var w = 0.0;
        if gn < pr.n && gk < pr.k { w = load_b(pr, pr.b + gk * pr.b_k + gn * pr.b_n); }
        wide_b[kk * WIDE_ROW + nn / 4u][nn % 4u] = w;
    }
}

// Step kk of a staged slice for the invocation at (ty, tx); half_m and half_n are BM/8 and BN/8
// (the vec4 offset of the second half of its rows and columns).
// sums: the running Σ_k of the invocation's rows of op(A) (ROW_SUMS), x for rows ty·4.., y for
// BM/2 + ty·4...
struct RowSums { lo: vec4<f32>, hi: vec4<f32> }

fn wide_step(acc: ptr<function, Block>, sums: ptr<function, RowSums>, kk: u32, ty: u32, tx: u32, half_m: u32, half_n: u32) {
    let r = kk * WIDE_ROW;
    let a0 = wide_a[r + ty];
    let a1 = wide_a[r + half_m + ty];
    outer(acc, a0, a1, wide_b[r + tx], wide_b[r + half_n + tx]);
    if ROW_SUMS {
        (*sums).lo += a0;
        (*sums).hi += a1;
    }
}

fn add_row_sums(m: u32, v: vec4<f32>) {
    for (var i = 0u; i < 4u; i++) {
        if m + i < p.m { row_sums[m + i] += p.alpha * v[i]; }
    }
}

// The tile of pr's C at (tm0, tn0).
fn wide(pr: Product, li: u32, bm: u32, bn: u32, tm0: u32, tn0: u32) {
    let threads = (bm / 8u) * (bn / 8u);
    let tx = li % (bn / 8u);
    let ty = li / (bn / 8u);
    let half_m = bm / 8u;
    let half_n = bn / 8u;
    var acc: Block;
    var sums: RowSums;
    for (var k0 = 0u; k0 < pr.k; k0 += WIDE_K) {
        wide_stage(pr, li, threads, bm, bn, tm0, tn0, k0);
        workgroupBarrier();
        wide_step(&acc, &sums, 0u, ty, tx, half_m, half_n);
        wide_step(&acc, &sums, 1u, ty, tx, half_m, half_n);
        wide_step(&acc, &sums, 2u, ty, tx, half_m, half_n);
        wide_step(&acc, &sums, 3u, ty, tx, half_m, half_n);
        wide_step(&acc, &sums, 4u, ty, tx, half_m, half_n);
        wide_step(&acc, &sums, 5u, ty, tx, half_m, half_n);
        wide_step(&acc, &sums, 6u, ty, tx, half_m, half_n);
        wide_step(&acc, &sums, 7u, ty, tx, half_m, half_n);
        workgroupBarrier();
    }
    let m = tm0 + ty * 4u;
    let m2 = m + bm / 2u;
    if ROW_SUMS && !pr.second && tn0 == 0u && tx == 0u {
        add_row_sums(m, sums.lo);
        add_row_sums(m2, sums.hi);
    }
    let n = tn0 + tx * 4u;
    let n2 = n + bn / 2u;
    store_product_row(pr, m, n, acc.r0l); store_product_row(pr, m, n2, acc.r0h);
    store_product_row(pr, m + 1u, n, acc.r1l); store_product_row(pr, m + 1u, n2, acc.r1h);
    store_product_row(pr, m + 2u, n, acc.r2l); store_product_row(pr, m + 2u, n2, acc.r2h);
    store_product_row(pr, m + 3u, n, acc.r3l); store_product_row(pr, m + 3u, n2, acc.r3h);
    store_product_row(pr, m2, n, acc.r4l); store_product_row(pr, m2, n2, acc.r4h);
    store_product_row(pr, m2 + 1u, n, acc.r5l); store_product_row(pr, m2 + 1u, n2, acc.r5h);
    store_product_row(pr, m2 + 2u, n, acc.r6l); store_product_row(pr, m2 + 2u, n2, acc.r6h);
    store_product_row(pr, m2 + 3u, n, acc.r7l); store_product_row(pr, m2 + 3u, n2, acc.r7h);
}

// Workgroup `id` of a pair launch: a tile of the first product, or after q_from of the second.
fn wide_pair(id: u32, li: u32, bm: u32, bn: u32) {
    if id < p.q_from {
        let cols = (p.n + bn - 1u) / bn;
        wide(first_product(0u), li, bm, bn, (id / cols) * bm, (id % cols) * bn);
    } else {
        let j = id - p.q_from;
        let cols = (p.q_n + bn - 1u) / bn;
        wide(second_product(), li, bm, bn, (j / cols) * bm, (j % cols) * bn);
    }
}

@compute @workgroup_size(256)
fn matmul_wide(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    wide(first_product(wg.z), li, 128u, 128u, wg.y * 128u, wg.x * 128u);
}

@compute @workgroup_size(64)
fn matmul_wide64(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    wide(first_product(wg.z), li, 64u, 64u, wg.y * 64u, wg.x * 64u);
}

@compute @workgroup_size(256)
fn matmul_wide_pair(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    wide_pair(wg.x, li, 128u, 128u);
}

@compute @workgroup_size(64)
fn matmul_wide64_pair(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    wide_pair(wg.x, li, 64u, 64u);
}
