// The panel kernel with subgroups of 8 lanes (lavapipe on 256-bit SIMD), appended to
// matmul_panel.wgsl (src/gpu/kernel.rs): its bindings, Params and stores; src/ops/matmul/panel.rs
// launches it 4x1 workgroups per 128x128 block of C, where adapters whose subgroups are exactly
// 8 lanes wide run it.
//
// lavapipe runs an invocation per SIMD lane, and a uniform-buffer load whose index may differ
// between lanes is one scalar load per lane. In matmul_panel, the 8 lanes of a subgroup share
// their rows of A, so each lane loads the same 8 values of A per step of k (8 such loads for 8
// values). Here each lane loads two of its subgroup's 16 rows (2 loads for 16 values), and
// subgroupBroadcast hands them to the other lanes from registers: 1024³ went from ~22 to ~33
// GFLOP/s in a probe on lavapipe.

// A lane's 16 rows x 4 columns of C.
struct Strip {
    r0: vec4<f32>, r1: vec4<f32>, r2: vec4<f32>, r3: vec4<f32>,
    r4: vec4<f32>, r5: vec4<f32>, r6: vec4<f32>, r7: vec4<f32>,
    r8: vec4<f32>, r9: vec4<f32>, r10: vec4<f32>, r11: vec4<f32>,
    r12: vec4<f32>, r13: vec4<f32>, r14: vec4<f32>, r15: vec4<f32>,
}

// One step of k: rows 0-7 of the strip are lanes 0-7's `lo`, rows 8-15 their `hi`; b is the
// lane's 4 columns of B.
fn strip_step(acc: ptr<function, Strip>, lo: f32, hi: f32, b: vec4<f32>) {
    (*acc).r0 = fma(vec4<f32>(subgroupBroadcast(lo, 0u)), b, (*acc).r0);
    (*acc).r1 = fma(vec4<f32>(subgroupBroadcast(lo, 1u)), b, (*acc).r1);
    (*acc).r2 = fma(vec4<f32>(subgroupBroadcast(lo, 2u)), b, (*acc).r2);
    (*acc).r3 = fma(vec4<f32>(subgroupBroadcast(lo, 3u)), b, (*acc).r3);
    (*acc).r4 = fma(vec4<f32>(subgroupBroadcast(lo, 4u)), b, (*acc).r4);
    (*acc).r5 = fma(vec4<f32>(subgroupBroadcast(lo, 5u)), b, (*acc).r5);
    (*acc).r6 = fma(vec4<f32>(subgroupBroadcast(lo, 6u)), b, (*acc).r6);
    (*acc).r7 = fma(vec4<f32>(subgroupBroadcast(lo, 7u)), b, (*acc).r7);
    (*acc).r8 = fma(vec4<f32>(subgroupBroadcast(hi, 0u)), b, (*acc).r8);
    (*acc).r9 = fma(vec4<f32>(subgroupBroadcast(hi, 1u)), b, (*acc).r9);
    (*acc).r10 = fma(vec4<f32>(subgroupBroadcast(hi, 2u)), b, (*acc).r10);
    (*acc).r11 = fma(vec4<f32>(subgroupBroadcast(hi, 3u)), b, (*acc).r11);
    (*acc).r12 = fma(vec4<f32>(subgroupBroadcast(hi, 4u)), b, (*acc).r12);
    (*acc).r13 = fma(vec4<f32>(subgroupBroadcast(hi, 5u)), b, (*acc).r13);
    (*acc).r14 = fma(vec4<f32>(subgroupBroadcast(hi, 6u)), b, (*acc).r14);
    (*acc).r15 = fma(vec4<f32>(subgroupBroadcast(hi, 7u)), b, (*acc).r15);
}

// Workgroup of 64 = 8 subgroups: subgroup s owns rows 16s..16s+15 of the block, lane l its
// columns 32·wg.x + 4l..+3.
@compute @workgroup_size(64)
fn matmul_panel_sg(@builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_id) sg: u32,
                   @builtin(subgroup_invocation_id) lane: u32) {
    // An A panel holds, per k, the block's 128 rows as 32 vec4s: this lane loads rows
    // 16·sg + lane (lo) and 16·sg + 8 + lane (hi).
    let lo = sg * 4u + lane / 4u;
    let hi = lo + 2u;
    let c = lane % 4u;
    let bi = wg.x * 8u + lane;
    var acc: Strip;
    // The chunks' bindings cannot be indexed: one loop per chunk, as in matmul_panel.
    for (var kk = 0u; kk < chunk_depth(0u); kk++) {
        let r = kk * (PANEL / 4u);
        strip_step(&acc, pa0[r + lo][c], pa0[r + hi][c], pb0[r + bi]);
    }
    if p.chunks_here > 1u {
        for (var kk = 0u; kk < chunk_depth(1u); kk++) {
            let r = kk * (PANEL / 4u);
            strip_step(&acc, pa1[r + lo][c], pa1[r + hi][c], pb1[r + bi]);
        }
    }
    if p.chunks_here > 2u {
        for (var kk = 0u; kk < chunk_depth(2u); kk++) {
            let r = kk * (PANEL / 4u);
            strip_step(&acc, pa2[r + lo][c], pa2[r + hi][c], pb2[r + bi]);
        }
    }
    if p.chunks_here > 3u {
        for (var kk = 0u; kk < chunk_depth(3u); kk++) {
            let r = kk * (PANEL / 4u);
            strip_step(&acc, pa3[r + lo][c], pa3[r + hi][c], pb3[r + bi]);
        }
    }
    let m = p.m0 + sg * 16u;
    let n = p.n0 + wg.x * 32u + lane * 4u;
    store_panel4(m, n, acc.r0);
    store_panel4(m + 1u, n, acc.r1);
    store_panel4(m + 2u, n, acc.r2);
    store_panel4(m + 3u, n, acc.r3);
    store_panel4(m + 4u, n, acc.r4);
    store_panel4(m + 5u, n, acc.r5);
    store_panel4(m + 6u, n, acc.r6);
    store_panel4(m + 7u, n, acc.r7);
    store_panel4(m + 8u, n, acc.r8);
    store_panel4(m + 9u, n, acc.r9);
    store_panel4(m + 10u, n, acc.r10);
    store_panel4(m + 11u, n, acc.r11);
    store_panel4(m + 12u, n, acc.r12);
    store_panel4(m + 13u, n, acc.r13);
    store_panel4(m + 14u, n, acc.r14);
    store_panel4(m + 15u, n, acc.r15);
}
