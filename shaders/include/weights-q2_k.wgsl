// GGUF Q2_K as stored (with ggml-bytes.wgsl): 256 weights in 84 bytes: 16 (scale, min) nibble pairs (scale
// low), 64 bytes of 2-bit codes, d, dmin. Weight 128n + 32k + l: bits 2k of byte 16 + 32n + l, pair
// 8n + 2k + l / 16; w = d * scale * q - dmin * min. w8(row, j) = weights 8j .. 8j + 7.

alias WeightWord = u32; // the element type of `w` (and `w_up`) in the bindings files

fn w8(row: u32, j: u32) -> W8 {
  let base = (j >> 5u) * 84u;
  let p = (j & 31u) * 8u;
  let n = p >> 7u;
  let k = (p >> 5u) & 3u;
  let l = p & 31u;
  let dm = unpack2x16float(w_word(row, base + 80u));
  let sc = w_byte(row, base + 8u * n + 2u * k + (l >> 4u));
  let d = dm.x * f32(sc & 15u);
  let m = dm.y * f32(sc >> 4u);
  let at = base + 16u + 32u * n + l;
  return W8(d * w_fields4(w_word(row, at), 2u * k, 2u) - m, d * w_fields4(w_word(row, at + 4u), 2u * k, 2u) - m);
}
