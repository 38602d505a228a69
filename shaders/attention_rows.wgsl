// How attention.wgsl's CPU kernels fetch a row of another head-sized window: every lane loads
// all of it (appended to attention.wgsl by src/gpu/kernel.rs; attention_rows_subgroup.wgsl is
// the subgroup build's).

struct Lane {
    @builtin(global_invocation_id) gid: vec3<u32>,
}

fn lane_of(t: Lane) -> u32 { return 0u; }

// One fetcher per window: WGSL cannot pass a binding to a function.
fn k_row(j: u32, lane: u32) -> Row {
    var r: Row;
    for (var d = 0u; d < HS4; d++) { r[d] = kw[j * HS4 + d]; }
    return r;
}

fn v_row(j: u32, lane: u32) -> Row {
    var r: Row;
    for (var d = 0u; d < HS4; d++) { r[d] = vw[j * HS4 + d]; }
    return r;
}

fn q_row(i: u32, lane: u32) -> Row {
    var r: Row;
    for (var d = 0u; d < HS4; d++) { r[d] = qw[i * HS4 + d]; }
    return r;
}

fn g_row(i: u32, lane: u32) -> Row {
    var r: Row;
    for (var d = 0u; d < HS4; d++) { r[d] = gw[i * HS4 + d]; }
    return r;
}
