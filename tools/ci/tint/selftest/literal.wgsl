// Refused by Tint (naga rounds it to -f32::MAX): the module must fail with line 3, column 22.
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
const F32_MIN: f32 = -3.40282347e38;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    out[gid.x] = F32_MIN;
}
