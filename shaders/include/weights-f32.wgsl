// Weight rows stored as f32 bits in u32 words (W_ROW_WORDS per row). w8(row, j) = weights 8j..8j+7.

alias WeightWord = u32; // the element type of `w` (and `w_up`) in the bindings files

fn w8(row: u32, j: u32) -> W8 {
  let i = row * W_ROW_WORDS + 8u * j;
  return W8(
    bitcast<vec4<f32>>(vec4<u32>(w[i], w[i + 1u], w[i + 2u], w[i + 3u])),
    bitcast<vec4<f32>>(vec4<u32>(w[i + 4u], w[i + 5u], w[i + 6u], w[i + 7u])),
  );
}
