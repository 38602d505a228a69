// Compiles as a module; some specializations do not: too much workgroup memory for N = 65536,
// a constant the module does not declare, a required override left out. And the manifest
// forgets the entry point `unlisted`.
override N: u32 = 64u;
override SCALE: f32;
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
var<workgroup> tile: array<f32, N>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) li: u32) {
    tile[li] = f32(li) * SCALE;
    workgroupBarrier();
    out[li] = tile[N - 1u - li];
}

@compute @workgroup_size(64)
fn unlisted(@builtin(local_invocation_index) li: u32) {
    out[li] = 0.0;
}
