// GGUF Q5_K as stored (with ggml-bytes.wgsl): as Q4_K (weights-q4_k.wgsl) in 176 bytes, with 32 bytes of fifth
// bits before the nibbles: bit s of byte l is weight l of 32-weight sub-block s. w8(row, j) = weights 8j .. 8j + 7.

alias WeightWord = u32; // the element type of `w` (and `w_up`) in the bindings files

fn w8(row: u32, j: u32) -> W8 {
  let base = (j >> 5u) * 176u;
  let c = j & 31u;
  let s = c >> 2u;
  let dm = unpack2x16float(w_word(row, base));
  let sm = w_scale_min_k(row, base + 4u, s);
  let hi = base + 16u + (c & 3u) * 8u;
  let at = base + 48u + (s >> 1u) * 32u + (c & 3u) * 8u;
  let sh = (s & 1u) * 4u;
  let d = dm.x * sm.x;
  let m = dm.y * sm.y;
  let qa = w_fields4(w_word(row, at), sh, 4u) + 16.0 * w_fields4(w_word(row, hi), s, 1u);
  let qb = w_fields4(w_word(row, at + 4u), sh, 4u) + 16.0 * w_fields4(w_word(row, hi + 4u), s, 1u);
  return W8(d * qa - m, d * qb - m);
}
