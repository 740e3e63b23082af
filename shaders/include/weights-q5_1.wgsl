// GGUF Q5_1 as stored (with ggml-bytes.wgsl): 32 weights in 24 bytes: d, m (f16), a u32 of fifth bits (bit i
// for weight i), 16 bytes of nibbles as Q4_1's; w = d * q + m. w8(row, j) = weights 8j .. 8j + 7.

alias WeightWord = u32; // the element type of `w` (and `w_up`) in the bindings files

fn w8(row: u32, j: u32) -> W8 {
  let base = (j >> 2u) * 24u;
  let c = j & 3u;
  let dm = unpack2x16float(w_word(row, base));
  let high = w_word(row, base + 4u) >> (8u * c);
  let at = base + 8u + (c & 1u) * 8u;
  let sh = (c >> 1u) * 4u;
  let qa = w_fields4(w_word(row, at), sh, 4u) + 16.0 * vec4<f32>((vec4<u32>(high) >> vec4<u32>(0u, 1u, 2u, 3u)) & vec4<u32>(1u));
  let qb = w_fields4(w_word(row, at + 4u), sh, 4u) + 16.0 * vec4<f32>((vec4<u32>(high) >> vec4<u32>(4u, 5u, 6u, 7u)) & vec4<u32>(1u));
  return W8(dm.x * qa + dm.y, dm.x * qb + dm.y);
}
