// Weight rows stored as f16 pairs packed in u32 (works without shader-f16). w8(row, j) = weights 8j..8j+7.

alias WeightWord = u32; // the element type of `w` (and `w_up`) in the bindings files

fn w8(row: u32, j: u32) -> W8 {
  let i = row * W_ROW_WORDS + 4u * j;
  return W8(
    vec4<f32>(unpack2x16float(w[i]), unpack2x16float(w[i + 1u])),
    vec4<f32>(unpack2x16float(w[i + 2u]), unpack2x16float(w[i + 3u])),
  );
}
