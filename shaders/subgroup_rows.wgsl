// A row per subgroup, shared by layernorm_subgroup.wgsl and softmax_subgroup.wgsl (appended to
// each by src/gpu/kernel.rs; both modules' Params start with rows and cols). A workgroup of 64
// holds 64 / subgroup_size rows, a subgroup being consecutive invocations.

// Where an invocation is: the workgroup, its index in it, its lane and the subgroup's size.
struct Lane {
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) size: u32,
}

// The subgroup's row, whether it is one of the p.rows, and where it starts.
struct Row { row: u32, valid: bool, base: u32 }

fn row_of_lane(t: Lane) -> Row {
    let row = (t.wg.y * t.nwg.x + t.wg.x) * (64u / t.size) + t.li / t.size;
    return Row(row, row < p.rows, row * p.cols);
}
