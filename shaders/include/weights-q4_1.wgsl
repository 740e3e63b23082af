// GGUF Q4_1 as stored (with ggml-bytes.wgsl): 32 weights in 20 bytes: d, m (f16), 16 bytes of nibbles
// (weight i low in byte i, weight i + 16 high); w = d * q + m. w8(row, j) = weights 8j .. 8j + 7.

alias WeightWord = u32; // the element type of `w` (and `w_up`) in the bindings files

fn w8(row: u32, j: u32) -> W8 {
  let base = (j >> 2u) * 20u;
  let c = j & 3u;
  let dm = unpack2x16float(w_word(row, base));
  let at = base + 4u + (c & 1u) * 8u;
  let sh = (c >> 1u) * 4u;
  return W8(dm.x * w_fields4(w_word(row, at), sh, 4u) + dm.y, dm.x * w_fields4(w_word(row, at + 4u), sh, 4u) + dm.y);
}
