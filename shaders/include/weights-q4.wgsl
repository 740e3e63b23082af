// Symmetric int4 weights, eight codes per u32 (lowest nibble first, stored as code + 8), one f16 scale per
// 32 columns, two scales per u32 (W_SCALE_WORDS per row). w8(row, j) = weights 8j..8j+7 = code * scale.

alias WeightWord = u32; // the element type of `w` (and `w_up`) in the bindings files

fn w_scale(row: u32, group: u32) -> f32 {
  let pair = unpack2x16float(ws[row * W_SCALE_WORDS + (group >> 1u)]);
  return select(pair.x, pair.y, (group & 1u) == 1u);
}

fn w8(row: u32, j: u32) -> W8 {
  let s = w_scale(row, j >> 2u);
  let v = w[row * W_ROW_WORDS + j];
  let lo = vec4<f32>((vec4<u32>(v, v >> 4u, v >> 8u, v >> 12u) & vec4<u32>(15u))) - vec4<f32>(8.0);
  let hi = vec4<f32>((vec4<u32>(v >> 16u, v >> 20u, v >> 24u, v >> 28u) & vec4<u32>(15u))) - vec4<f32>(8.0);
  return W8(s * lo, s * hi);
}
