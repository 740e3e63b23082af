// f32 weights (layout of weights-f32.wgsl) read 16 bytes at a time, for the tiled-family GEMVs: block q of a
// row is one vec4<u32>, 4 weights. w_dot(row, q, xs) = the block's weights · xs (BLOCK_VEC4 = 1 vec4). T4 as
// in weights-q4-vec4.wgsl.

alias WeightWord = vec4<u32>; // the element type of `w` (and `w_up`) in the bindings files

fn w_dot(row: u32, q: u32, xs: array<T4, BLOCK_VEC4>) -> f32 {
  return f32(dot(T4(bitcast<vec4<f32>>(w[row * (W_ROW_WORDS / 4u) + q])), xs[0]));
}
