// GGUF IQ4_NL as stored (with ggml-bytes.wgsl): 32 weights in 18 bytes (blocks start on any even byte): d,
// 16 bytes of nibbles (weight i low in byte i, weight i + 16 high); w = d * level(nibble), ggml's 16
// non-uniform levels. w8(row, j) = weights 8j .. 8j + 7.

alias WeightWord = u32; // the element type of `w` (and `w_up`) in the bindings files

fn w8(row: u32, j: u32) -> W8 {
  let base = (j >> 2u) * 18u;
  let c = j & 3u;
  let d = w_half(row, base);
  let at = base + 2u + (c & 1u) * 8u;
  let sh = (c >> 1u) * 4u;
  return W8(d * w_iq4_levels4(w_bytes4(row, at), sh), d * w_iq4_levels4(w_bytes4(row, at + 4u), sh));
}
