// f32 <-> f16 conversion: f16 storage where the adapter has shader-f16 (src/gpu/context.rs
// refuses f16 tensors elsewhere). One invocation per element; 16-bit stores are element-wise,
// so two invocations writing the halves of one 32-bit word do not race.
//
//   to_f16:  dst16[i] = f16(src32[i])   round to nearest even; past ±65504 gives ±inf
//   to_f32:  dst32[i] = f32(src16[i])   exact
//
// Backward: the gradient of a conversion is the opposite conversion of the gradient.

enable f16;

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src32: array<f32>;        // (n), to_f16
@group(0) @binding(2) var<storage, read_write> dst16: array<f16>;  // (n), to_f16
@group(0) @binding(1) var<storage, read> src16: array<f16>;        // (n), to_f32
@group(0) @binding(2) var<storage, read_write> dst32: array<f32>;  // (n), to_f32
// The same two buffers as vec4s for the _x4 entries, when n is a multiple of 4: a quarter of
// the loads and stores, which is what costs on CPU adapters.
@group(0) @binding(1) var<storage, read> src32x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst16x4: array<vec4<f16>>;

fn index(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * 256u + li;
}

@compute @workgroup_size(256)
fn to_f16(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
    let i = index(wg, nwg, li);
    if i < p.n { dst16[i] = f16(src32[i]); }
}

@compute @workgroup_size(256)
fn to_f16_x4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) li: u32) {
    let i = index(wg, nwg, li);
    if i < p.n / 4u { dst16x4[i] = vec4<f16>(src32x4[i]); }
}

@compute @workgroup_size(256)
fn to_f32(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
    let i = index(wg, nwg, li);
    if i < p.n { dst32[i] = f32(src16[i]); }
}
