// GGUF Q6_K as stored (with ggml-bytes.wgsl): 256 weights in 210 bytes (blocks start on any even byte): 128
// bytes of low nibbles, 64 bytes of 2-bit highs, 16 signed 8-bit scales (one per 16 weights), d. Weight
// 128n + 32k + l: nibble k >> 1 of byte 64n + 32(k & 1) + l, bits 2k of byte 128 + 32n + l, scale 8n + 2k + l / 16;
// w = d * scale * (q - 32). w8(row, j) = weights 8j .. 8j + 7.

alias WeightWord = u32; // the element type of `w` (and `w_up`) in the bindings files

fn w8(row: u32, j: u32) -> W8 {
  let base = (j >> 5u) * 210u;
  let p = (j & 31u) * 8u;
  let n = p >> 7u;
  let k = (p >> 5u) & 3u;
  let l = p & 31u;
  let lo = base + 64u * n + 32u * (k & 1u) + l;
  let hi = base + 128u + 32u * n + l;
  let d = w_half(row, base + 208u) * w_i8(w_byte(row, base + 192u + 8u * n + 2u * k + (l >> 4u)));
  let qa = w_fields4(w_bytes4(row, lo), (k >> 1u) * 4u, 4u) + 16.0 * w_fields4(w_bytes4(row, hi), 2u * k, 2u);
  let qb = w_fields4(w_bytes4(row, lo + 4u), (k >> 1u) * 4u, 4u) + 16.0 * w_fields4(w_bytes4(row, hi + 4u), 2u * k, 2u);
  return W8(d * (qa - 32.0), d * (qb - 32.0));
}
