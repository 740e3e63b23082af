// Symmetric int8 weights (layout of weights-q8.wgsl) read 16 bytes at a time, for the tiled-family GEMVs:
// block q of a row is one vec4<u32>, 16 codes, half of scale group q / 2. w_dot(row, q, xs) = the block's
// weights · xs, xs the block's 16 activations as BLOCK_VEC4 (= 4) vec4s; the scale is applied once. T4 as
// in weights-q4-vec4.wgsl.

alias WeightWord = vec4<u32>; // the element type of `w` (and `w_up`) in the bindings files

fn w_scale(row: u32, group: u32) -> f32 {
  let pair = unpack2x16float(ws[row * W_SCALE_WORDS + (group >> 1u)]);
  return select(pair.x, pair.y, (group & 1u) == 1u);
}

/** The four signed bytes of v, lowest first, divided by 128 (exact; see i4x4 in weights-q4-vec4.wgsl). */
fn i8x4(v: u32) -> T4 {
  let shifted = vec4<u32>(v << 24u, v << 16u, v << 8u, v);
  return T4(bitcast<vec4<i32>>(shifted) >> vec4<u32>(24u)) * T4(1.0 / 128.0);
}

fn w_dot(row: u32, q: u32, xs: array<T4, BLOCK_VEC4>) -> f32 {
  let v = w[row * (W_ROW_WORDS / 4u) + q];
  let s = f32(dot(i8x4(v.x), xs[0])) + f32(dot(i8x4(v.y), xs[1])) + f32(dot(i8x4(v.z), xs[2])) + f32(dot(i8x4(v.w), xs[3]));
  return s * (128.0 * w_scale(row, q >> 1u));
}
