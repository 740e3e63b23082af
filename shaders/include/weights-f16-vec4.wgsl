// f16 weights (layout of weights-f16.wgsl) read 16 bytes at a time, for the tiled-family GEMVs: block q of a
// row is one vec4<u32>, 8 weights. w_dot(row, q, xs) = the block's weights · xs (BLOCK_VEC4 = 2 vec4s). T4 as
// in weights-q4-vec4.wgsl.

alias WeightWord = vec4<u32>; // the element type of `w` (and `w_up`) in the bindings files

fn w_dot(row: u32, q: u32, xs: array<T4, BLOCK_VEC4>) -> f32 {
  let v = w[row * (W_ROW_WORDS / 4u) + q];
  return f32(dot(T4(vec4<f32>(unpack2x16float(v.x), unpack2x16float(v.y))), xs[0]))
    + f32(dot(T4(vec4<f32>(unpack2x16float(v.z), unpack2x16float(v.w))), xs[1]));
}
