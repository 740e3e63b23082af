// Byte access to a GGUF block format's rows (weights-q4_k.wgsl and the other block formats,
// src/quant/block-format.ts): row r starts at word r * W_ROW_WORDS and holds the file's bytes of that row,
// so a block need not start on a word. Little-endian throughout, as GGUF stores it.

/** The word of `row` holding byte `at` (`at` a multiple of 4 reads it whole). */
fn w_word(row: u32, at: u32) -> u32 {
  return w[row * W_ROW_WORDS + (at >> 2u)];
}

/** Bytes at .. at + 3 of `row`, at any alignment. */
fn w_bytes4(row: u32, at: u32) -> u32 {
  let s = (at & 3u) * 8u;
  if (s == 0u) { return w_word(row, at); }
  return (w_word(row, at) >> s) | (w_word(row, at + 4u) << (32u - s));
}

fn w_byte(row: u32, at: u32) -> u32 {
  return (w_word(row, at) >> ((at & 3u) * 8u)) & 255u;
}

/** The f16 at an even byte `at`. */
fn w_half(row: u32, at: u32) -> f32 {
  return unpack2x16float(w_word(row, at) >> ((at & 2u) * 8u)).x;
}

/** The four fields of `bits` bits at shift `sh` of the four bytes of v, lowest byte first. */
fn w_fields4(v: u32, sh: u32, bits: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(v, v >> 8u, v >> 16u, v >> 24u) >> vec4<u32>(sh)) & vec4<u32>((1u << bits) - 1u));
}

/** Q4_K / Q5_K: 6-bit scale and min of sub-block s (0..7) from the 12 bytes at `q`. */
fn w_scale_min_k(row: u32, q: u32, s: u32) -> vec2<f32> {
  if (s < 4u) { return vec2<f32>(f32(w_byte(row, q + s) & 63u), f32(w_byte(row, q + s + 4u) & 63u)); }
  let b = w_byte(row, q + s + 4u);
  return vec2<f32>(f32((b & 15u) | ((w_byte(row, q + s - 4u) >> 6u) << 4u)), f32((b >> 4u) | ((w_byte(row, q + s) >> 6u) << 4u)));
}

/** IQ4_NL / IQ4_XS: level i (0..15) of ggml's kvalues_iq4nl, packed as signed bytes. */
fn w_iq4_level(i: u32) -> f32 {
  let word = vec4<u32>(0xBFAD9881u, 0xF6EADDCFu, 0x26190D01u, 0x71594535u)[i >> 2u];
  return f32(bitcast<i32>(word << (24u - 8u * (i & 3u))) >> 24u);
}

/** The levels of the four nibbles at shift `sh` of the four bytes of v. */
fn w_iq4_levels4(v: u32, sh: u32) -> vec4<f32> {
  let i = (vec4<u32>(v, v >> 8u, v >> 16u, v >> 24u) >> vec4<u32>(sh)) & vec4<u32>(15u);
  return vec4<f32>(w_iq4_level(i.x), w_iq4_level(i.y), w_iq4_level(i.z), w_iq4_level(i.w));
}

/** A signed byte as f32. */
fn w_i8(b: u32) -> f32 {
  return f32(bitcast<i32>(b << 24u) >> 24u);
}
