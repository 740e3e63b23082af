// Symmetric int8 weights, four codes per u32 (lowest byte first), one f16 scale per 32 columns, two
// scales per u32 (W_SCALE_WORDS per row). w8(row, j) = weights 8j..8j+7 = code * scale.

alias WeightWord = u32; // the element type of `w` (and `w_up`) in the bindings files

fn w_scale(row: u32, group: u32) -> f32 {
  let pair = unpack2x16float(ws[row * W_SCALE_WORDS + (group >> 1u)]);
  return select(pair.x, pair.y, (group & 1u) == 1u);
}

fn i8x4(v: u32) -> vec4<f32> {
  let shifted = vec4<u32>(v << 24u, v << 16u, v << 8u, v);
  return vec4<f32>(bitcast<vec4<i32>>(shifted) >> vec4<u32>(24u));
}

fn w8(row: u32, j: u32) -> W8 {
  let s = w_scale(row, j >> 2u);
  let i = row * W_ROW_WORDS + 2u * j;
  return W8(s * i8x4(w[i]), s * i8x4(w[i + 1u]));
}
