// GGUF IQ4_XS as stored (with ggml-bytes.wgsl): 256 weights in 136 bytes: d, 16 bits of scale highs (2 per
// 32 weights), 4 bytes of scale lows (a nibble per 32 weights), then per 32 weights 16 bytes as IQ4_NL;
// w = d * (scale - 32) * level. w8(row, j) = weights 8j .. 8j + 7.

alias WeightWord = u32; // the element type of `w` (and `w_up`) in the bindings files

fn w8(row: u32, j: u32) -> W8 {
  let base = (j >> 5u) * 136u;
  let c = j & 31u;
  let b = c >> 2u; // 32-weight sub-block
  let head = w_word(row, base);
  let scale = ((w_byte(row, base + 4u + (b >> 1u)) >> (4u * (b & 1u))) & 15u) | (((head >> (16u + 2u * b)) & 3u) << 4u);
  let d = unpack2x16float(head).x * (f32(scale) - 32.0);
  let at = base + 8u + 16u * b + (c & 1u) * 8u;
  let sh = ((c >> 1u) & 1u) * 4u;
  return W8(d * w_iq4_levels4(w_word(row, at), sh), d * w_iq4_levels4(w_word(row, at + 4u), sh));
}
