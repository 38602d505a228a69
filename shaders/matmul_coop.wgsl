// ---- cooperative-matrix variant (tensor cores) ----
//
// Appended to the mixed-precision build of matmul.wgsl (src/gpu/kernel.rs: Shader::MatmulCoop,
// with `enable wgpu_cooperative_matrix;`), so it shares Params, the bindings, the transposes,
// the batches, `widen`'s rounding to f16 and store()'s epilogue with the other variants. Built
// only where the adapter offers wgpu's EXPERIMENTAL_COOPERATIVE_MATRIX with a 16x16x16
// f16 -> f32 shape.
//
// One workgroup of 32 invocations is one subgroup on NVIDIA (where the feature exists), so every
// coop call below is in workgroup-uniform control flow. It owns a 32x64 tile of C as 2x4
// accumulators of 16x16 (f32), separate variables with constant names (no dynamic indexing).
// Each 32-deep K slice of op(A) and op(B) (f32 in memory) is staged in workgroup memory as f16,
// zero-padded past the edges and already in row-major order whatever TRANS_A / TRANS_B say, so
// the coop loads never leave the tile. The staged slices and the C tile are row-major, hence
// coopLoadT and coopStoreT: naga's coopLoad / coopStore are column-major (SPIR-V
// ColumnMajorKHR). At the end the accumulators go through workgroup memory to store(), which
// applies alpha, bias, accumulate and the activation with its bounds checks.
//
// Kept small and plain: the loads are scalar and one subgroup does all the staging. Tuning
// (vec4 loads, more subgroups per workgroup, double buffering) comes once it has been timed.

const CM: u32 = 32u; // rows of C per workgroup: 2 matrices of 16
const CN: u32 = 64u; // columns: 4 matrices of 16
const CK: u32 = 32u; // depth of a staged K slice: 2 products of 16
var<workgroup> coop_a: array<f16, 1024>; // (CM, CK): coop_a[mm * CK + kk]
var<workgroup> coop_b: array<f16, 2048>; // (CK, CN): coop_b[kk * CN + nn]
var<workgroup> coop_c: array<f32, 2048>; // (CM, CN): coop_c[mm * CN + nn]

alias CoopA = coop_mat16x16<f16, A>;
alias CoopB = coop_mat16x16<f16, B>;

@compute @workgroup_size(32, 1, 1)
fn matmul_coop(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let base = batch_bases(wg.z);
    let sa = a_strides();
    let sb = b_strides();
    let tm0 = wg.y * CM;
    let tn0 = wg.x * CN;
    var c00 = coop_mat16x16<f32, C>();
    var c01 = coop_mat16x16<f32, C>();
    var c02 = coop_mat16x16<f32, C>();
    var c03 = coop_mat16x16<f32, C>();
    var c10 = coop_mat16x16<f32, C>();
    var c11 = coop_mat16x16<f32, C>();
    var c12 = coop_mat16x16<f32, C>();
    var c13 = coop_mat16x16<f32, C>();
    for (var k0 = 0u; k0 < p.k; k0 += CK) {
        // 1024 elements of A's slice (32 per invocation) and 2048 of B's (64); consecutive
        // invocations take consecutive k (A) or n (B).
        for (var i = 0u; i < 32u; i++) {
            let e = li + i * 32u;
            let mm = e / CK;
            let kk = e % CK;
            var v = 0.0;
            if tm0 + mm < p.m && k0 + kk < p.k { v = widen(a[base.a + (tm0 + mm) * sa.x + (k0 + kk) * sa.y]); }
            coop_a[e] = f16(v);
        }
        for (var i = 0u; i < 64u; i++) {
            let e = li + i * 32u;
            let kk = e / CN;
            let nn = e % CN;
            var w = 0.0;
            if k0 + kk < p.k && tn0 + nn < p.n { w = widen(b[base.b + (k0 + kk) * sb.x + (tn0 + nn) * sb.y]); }
            coop_b[e] = f16(w);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < CK; kk += 16u) {
            let a0 = coopLoadT<CoopA>(&coop_a[kk], CK);
            let a1 = coopLoadT<CoopA>(&coop_a[16u * CK + kk], CK);
            let b0 = coopLoadT<CoopB>(&coop_b[kk * CN], CN);
            let b1 = coopLoadT<CoopB>(&coop_b[kk * CN + 16u], CN);
            let b2 = coopLoadT<CoopB>(&coop_b[kk * CN + 32u], CN);
            let b3 = coopLoadT<CoopB>(&coop_b[kk * CN + 48u], CN);
            c00 = coopMultiplyAdd(a0, b0, c00);
            c01 = coopMultiplyAdd(a0, b1, c01);
            c02 = coopMultiplyAdd(a0, b2, c02);
            c03 = coopMultiplyAdd(a0, b3, c03);
            c10 = coopMultiplyAdd(a1, b0, c10);
            c11 = coopMultiplyAdd(a1, b1, c11);
            c12 = coopMultiplyAdd(a1, b2, c12);
            c13 = coopMultiplyAdd(a1, b3, c13);
        }
        workgroupBarrier();
    }
    coopStoreT(c00, &coop_c[0u], CN);
    coopStoreT(c01, &coop_c[16u], CN);
    coopStoreT(c02, &coop_c[32u], CN);
    coopStoreT(c03, &coop_c[48u], CN);
    coopStoreT(c10, &coop_c[16u * CN], CN);
    coopStoreT(c11, &coop_c[16u * CN + 16u], CN);
    coopStoreT(c12, &coop_c[16u * CN + 32u], CN);
    coopStoreT(c13, &coop_c[16u * CN + 48u], CN);
    workgroupBarrier();
    for (var i = 0u; i < 64u; i++) {
        let e = li + i * 32u;
        store(base.c, tm0 + e / CN, tn0 + e % CN, coop_c[e]);
    }
}
