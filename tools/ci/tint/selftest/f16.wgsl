// Clean: skipped on an adapter without shader-f16, checked (and passing) on the null adapter.
enable f16;
@group(0) @binding(0) var<storage, read_write> out: array<f16>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    out[gid.x] = out[gid.x] * 2.0h;
}
