// How the mixed-precision build of matmul.wgsl loads its operands (src/gpu/kernel.rs prepends
// this): each f32 element rounded to the nearest f16 value (ties to even, subnormals kept),
// exactly what f32 -> f16 -> f32 conversion gives, so the products multiply f16 operands with
// f32 accumulation and no f16 copy is made. Done on the f32's bits, without f16 types, so the
// module needs no shader-f16. A value that f16 cannot hold (from 65520 on, where f16 rounds to
// inf), inf or NaN becomes ±inf: a loss-scaled gradient that overflows f16 reaches the
// parameters' gradients as inf or NaN and the optimizer skips the step (ops::adamw). The tests
// are on the bits: a compiler may assume floats are finite.
//
//   normal f16 range (from 2^-14): the f32 significand rounded to 10 bits, carry included;
//   below it: a multiple of 2^-24 (round() is to nearest even; the scalings are exact).

fn widen(x: f32) -> f32 {
    let bits = bitcast<u32>(x);
    let mag = bits & 0x7fffffffu;
    let normal = bitcast<f32>((bits + 0xfffu + ((bits >> 13u) & 1u)) & 0xffffe000u);
    let tiny = round(x * 16777216.0) * 5.9604644775390625e-8;
    let inf = bitcast<f32>((bits & 0x80000000u) | 0x7f800000u);
    return select(select(normal, tiny, mag < 0x38800000u), inf, mag >= 0x477ff000u);
}

fn widen4(x: vec4<f32>) -> vec4<f32> {
    let bits = bitcast<vec4<u32>>(x);
    let mag = bits & vec4<u32>(0x7fffffffu);
    let normal = bitcast<vec4<f32>>((bits + vec4<u32>(0xfffu) + ((bits >> vec4<u32>(13u)) & vec4<u32>(1u))) & vec4<u32>(0xffffe000u));
    let tiny = round(x * 16777216.0) * 5.9604644775390625e-8;
    let inf = bitcast<vec4<f32>>((bits & vec4<u32>(0x80000000u)) | vec4<u32>(0x7f800000u));
    return select(select(normal, tiny, mag < vec4<u32>(0x38800000u)), inf, mag >= vec4<u32>(0x477ff000u));
}
