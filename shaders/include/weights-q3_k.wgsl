// GGUF Q3_K as stored (with ggml-bytes.wgsl): 256 weights in 110 bytes (blocks start on any even byte): 32
// bytes of high bits, 64 bytes of 2-bit codes laid out as Q2_K's, 16 6-bit scales in 12 bytes (low nibbles
// in bytes 0-7, high pairs in bytes 8-11), d. Weight 128n + 32k + l has its high bit at bit 4n + k of byte l;
// w = d * (scale - 32) * (q - (high ? 0 : 4)). w8(row, j) = weights 8j .. 8j + 7.

alias WeightWord = u32; // the element type of `w` (and `w_up`) in the bindings files

fn w8(row: u32, j: u32) -> W8 {
  let base = (j >> 5u) * 110u;
  let p = (j & 31u) * 8u;
  let n = p >> 7u;
  let k = (p >> 5u) & 3u;
  let l = p & 31u;
  let i = 8u * n + 2u * k + (l >> 4u);
  let low = select(w_byte(row, base + 96u + i - 8u) >> 4u, w_byte(row, base + 96u + i) & 15u, i < 8u);
  let high = (w_byte(row, base + 104u + (i & 3u)) >> (2u * (i >> 2u))) & 3u;
  let d = w_half(row, base + 108u) * (f32(low | (high << 4u)) - 32.0);
  let at = base + 32u + 32u * n + l;
  let qa = w_fields4(w_bytes4(row, at), 2u * k, 2u) + 4.0 * w_fields4(w_bytes4(row, base + l), 4u * n + k, 1u) - 4.0;
  let qb = w_fields4(w_bytes4(row, at + 4u), 2u * k, 2u) + 4.0 * w_fields4(w_bytes4(row, base + l + 4u), 4u * n + k, 1u) - 4.0;
  return W8(d * qa, d * qb);
}
