// A warning, not an error: a subgroup operation in non-uniform control flow under
// `diagnostic(warning, subgroup_uniformity)`. Any warning must fail the check.
enable subgroups;
diagnostic(warning, subgroup_uniformity);
@group(0) @binding(0) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (out[gid.x] > 0.0) {
        out[gid.x] = subgroupAdd(out[gid.x]);
    }
}
