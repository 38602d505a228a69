// How the mixed-precision build of matmul.wgsl loads its operands (src/gpu/kernel.rs prepends
// this, after `enable f16;`): each f32 element rounded to f16 (to nearest even, subnormals kept)
// and widened back, the value an f16 copy would hold, so the products multiply f16 operands
// with f32 accumulation and no copy is made. A value past f16's largest (±65504), inf or NaN
// becomes ±inf, so a loss-scaled gradient that overflows f16 reaches the parameters' gradients
// as inf or NaN and the optimizer skips the step (ops::adamw). The test is on the bits: a
// compiler may assume floats are finite, and f16() of a value out of range is indeterminate.

fn widen(x: f32) -> f32 {
    let bits = bitcast<u32>(x);
    let inf = bitcast<f32>((bits & 0x80000000u) | 0x7f800000u);
    return select(f32(f16(x)), inf, (bits & 0x7fffffffu) > 0x477fe000u);
}

fn widen4(x: vec4<f32>) -> vec4<f32> {
    let bits = bitcast<vec4<u32>>(x);
    let inf = bitcast<vec4<f32>>((bits & vec4<u32>(0x80000000u)) | vec4<u32>(0x7f800000u));
    return select(vec4<f32>(vec4<f16>(x)), inf, (bits & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x477fe000u));
}
