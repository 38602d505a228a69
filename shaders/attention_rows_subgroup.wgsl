// How attention.wgsl's CPU kernels fetch a row of another head-sized window on adapters whose
// subgroups are 8 lanes (appended to attention.wgsl by src/gpu/kernel.rs; src/ops/
// attention_fused.rs picks this build there).
//
// The row's address is the same for every lane, but lavapipe loads once for all lanes only at
// constant offsets: a row index from a loop makes a load per lane, 8 copies of each value. Here
// lane l loads vec4s l and 8 + l of the row, and subgroupBroadcast hands them round: a row costs
// each lane 1 load (head size up to 32) or 2 instead of HS4.

struct Lane {
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
}

fn lane_of(t: Lane) -> u32 { return t.lane; }

// A row from its lanes' shares: lane l holds vec4s l (lo) and 8 + l (hi).
fn shared_row(lo: vec4<f32>, hi: vec4<f32>) -> Row {
    var r: Row;
    r[0] = subgroupBroadcast(lo, 0u);
    if HS4 > 1u { r[1] = subgroupBroadcast(lo, 1u); }
    if HS4 > 2u { r[2] = subgroupBroadcast(lo, 2u); }
    if HS4 > 3u { r[3] = subgroupBroadcast(lo, 3u); }
    if HS4 > 4u { r[4] = subgroupBroadcast(lo, 4u); }
    if HS4 > 5u { r[5] = subgroupBroadcast(lo, 5u); }
    if HS4 > 6u { r[6] = subgroupBroadcast(lo, 6u); }
    if HS4 > 7u { r[7] = subgroupBroadcast(lo, 7u); }
    if HS4 > 8u { r[8] = subgroupBroadcast(hi, 0u); }
    if HS4 > 9u { r[9] = subgroupBroadcast(hi, 1u); }
    if HS4 > 10u { r[10] = subgroupBroadcast(hi, 2u); }
    if HS4 > 11u { r[11] = subgroupBroadcast(hi, 3u); }
    if HS4 > 12u { r[12] = subgroupBroadcast(hi, 4u); }
    if HS4 > 13u { r[13] = subgroupBroadcast(hi, 5u); }
    if HS4 > 14u { r[14] = subgroupBroadcast(hi, 6u); }
    if HS4 > 15u { r[15] = subgroupBroadcast(hi, 7u); }
    return r;
}

// One fetcher per window: WGSL cannot pass a binding to a function.
fn k_row(j: u32, lane: u32) -> Row {
    var hi = vec4<f32>();
    if HS4 > 8u { hi = kw[j * HS4 + min(lane + 8u, HS4 - 1u)]; }
    return shared_row(kw[j * HS4 + min(lane, HS4 - 1u)], hi);
}

fn v_row(j: u32, lane: u32) -> Row {
    var hi = vec4<f32>();
    if HS4 > 8u { hi = vw[j * HS4 + min(lane + 8u, HS4 - 1u)]; }
    return shared_row(vw[j * HS4 + min(lane, HS4 - 1u)], hi);
}

fn q_row(i: u32, lane: u32) -> Row {
    var hi = vec4<f32>();
    if HS4 > 8u { hi = qw[i * HS4 + min(lane + 8u, HS4 - 1u)]; }
    return shared_row(qw[i * HS4 + min(lane, HS4 - 1u)], hi);
}

fn g_row(i: u32, lane: u32) -> Row {
    var hi = vec4<f32>();
    if HS4 > 8u { hi = gw[i * HS4 + min(lane + 8u, HS4 - 1u)]; }
    return shared_row(gw[i * HS4 + min(lane, HS4 - 1u)], hi);
}
