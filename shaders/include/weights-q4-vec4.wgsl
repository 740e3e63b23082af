// Symmetric int4 weights (layout of weights-q4.wgsl) read 16 bytes at a time, for the tiled-family GEMVs:
// block q of a row is one vec4<u32>, the row's 32 codes of scale group q. w_dot(row, q, xs) = the block's
// weights · xs, xs the block's 32 activations as BLOCK_VEC4 (= 8) vec4s; the scale is applied once. T4 is
// vec4<f32>, or vec4<f16> with f16 math (src/webgpu/ops/linear.ts gemmMath): each 4-term dot then runs in f16
// and is added in f32.

alias WeightWord = vec4<u32>; // the element type of `w` (and `w_up`) in the bindings files

fn w_scale(row: u32, group: u32) -> f32 {
  let pair = unpack2x16float(ws[row * W_SCALE_WORDS + (group >> 1u)]);
  return select(pair.x, pair.y, (group & 1u) == 1u);
}

/**
 * Codes of the four nibbles of v's low 16 bits, lowest first, divided by 8 (exact): in f16 a 4-term dot then
 * stays within |x| x 4, where raw codes would overflow 65,504 from |x| ~ 2,000 on.
 */
fn i4x4(v: u32) -> T4 {
  return T4(vec4<u32>(v, v >> 4u, v >> 8u, v >> 12u) & vec4<u32>(15u)) * T4(0.125) - T4(1.0);
}

fn w_dot(row: u32, q: u32, xs: array<T4, BLOCK_VEC4>) -> f32 {
  let v = w[row * (W_ROW_WORDS / 4u) + q];
  let s = f32(dot(i4x4(v.x), xs[0])) + f32(dot(i4x4(v.x >> 16u), xs[1])) + f32(dot(i4x4(v.y), xs[2])) + f32(dot(i4x4(v.y >> 16u), xs[3]))
    + f32(dot(i4x4(v.z), xs[4])) + f32(dot(i4x4(v.z >> 16u), xs[5])) + f32(dot(i4x4(v.w), xs[6])) + f32(dot(i4x4(v.w >> 16u), xs[7]));
  return s * (8.0 * w_scale(row, q));
}
