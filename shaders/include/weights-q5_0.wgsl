// GGUF Q5_0 as stored (with ggml-bytes.wgsl): 32 weights in 22 bytes (blocks start on any even byte): d, a
// u32 of fifth bits (bit i for weight i), 16 bytes of nibbles as Q4_1's; w = d * (q - 16).
// w8(row, j) = weights 8j .. 8j + 7.

alias WeightWord = u32; // the element type of `w` (and `w_up`) in the bindings files

fn w8(row: u32, j: u32) -> W8 {
  let base = (j >> 2u) * 22u;
  let c = j & 3u;
  let d = w_half(row, base);
  let high = w_bytes4(row, base + 2u) >> (8u * c); // weights 8c .. 8c + 7 in the low byte
  let at = base + 6u + (c & 1u) * 8u;
  let sh = (c >> 1u) * 4u;
  let qa = w_fields4(w_bytes4(row, at), sh, 4u) + 16.0 * vec4<f32>((vec4<u32>(high) >> vec4<u32>(0u, 1u, 2u, 3u)) & vec4<u32>(1u));
  let qb = w_fields4(w_bytes4(row, at + 4u), sh, 4u) + 16.0 * vec4<f32>((vec4<u32>(high) >> vec4<u32>(4u, 5u, 6u, 7u)) & vec4<u32>(1u));
  return W8(d * (qa - 16.0), d * (qb - 16.0));
}
