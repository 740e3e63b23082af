// GGUF Q4_K as stored (with ggml-bytes.wgsl): super-blocks of 256 weights in 144 bytes, d and dmin (f16),
// eight 6-bit (scale, min) pairs in 12 bytes, 128 bytes of nibbles: each 64 weights share 32 bytes, the first
// 32 in the low nibbles. w = d * scale * q - dmin * min per 32 weights. w8(row, j) = weights 8j .. 8j + 7.

alias WeightWord = u32; // the element type of `w` (and `w_up`) in the bindings files

fn w8(row: u32, j: u32) -> W8 {
  let base = (j >> 5u) * 144u;
  let c = j & 31u; // 8-weight chunk of the super-block
  let s = c >> 2u; // its 32-weight sub-block
  let dm = unpack2x16float(w_word(row, base));
  let sm = w_scale_min_k(row, base + 4u, s);
  let at = base + 16u + (s >> 1u) * 32u + (c & 3u) * 8u;
  let sh = (s & 1u) * 4u;
  let d = dm.x * sm.x;
  let m = dm.y * sm.y;
  return W8(d * w_fields4(w_word(row, at), sh, 4u) - m, d * w_fields4(w_word(row, at + 4u), sh, 4u) - m);
}
