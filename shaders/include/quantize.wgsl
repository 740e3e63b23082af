// Prefix of the kernels that quantize into the cache: the reference's quantizer (src/quant/quantize.ts)
// in WGSL. zero = f16 floor(min), scale = f16 ceil((max - zero) / (2^b - 1)), code = round half up.

// f16_bits and f16_value (exact, integer) are in common.wgsl.

/** Largest f16 <= v, as bits. */
fn f16_floor(v: f32) -> u32 {
  let h = f16_bits(v);
  if (f16_value(h) <= v) { return h; }
  if (h == 0u) { return 0x8001u; }
  return select(h - 1u, h + 1u, (h & 0x8000u) != 0u);
}

/** Smallest f16 >= v, as bits. */
fn f16_ceil(v: f32) -> u32 {
  let h = f16_bits(v);
  if (f16_value(h) >= v) { return h; }
  if (h == 0x8000u) { return 1u; }
  return select(h + 1u, h - 1u, (h & 0x8000u) != 0u);
}

/**
 * round((v - zero) / scale) with halves rounded up, exactly as the reference's f64 Math.round: the f32
 * quotient (WGSL allows 2.5 ulp for division) picks a candidate, then exact comparisons against the
 * half-way points (c ± 0.5) * scale, products of short mantissas and exact in f32, correct it.
 */
fn round_code(v: f32, zero: f32, scale: f32, levels: u32) -> u32 {
  let diff = v - zero;
  var c = floor(diff / scale + 0.5);
  if (diff < (c - 0.5) * scale) { c -= 1.0; }
  if (diff >= (c + 0.5) * scale) { c += 1.0; }
  return u32(clamp(c, 0.0, f32(levels)));
}


/** The f16 (scale, zero) of a group spanning [lo, hi], as the reference rounds them. */
struct GroupScale {
  packed: u32, // f16 scale | f16 zero << 16, the group's first word
  zero: f32,
  scale: f32,
  levels: u32,
}

/**
 * Whether scale * n >= hi - zero, decided exactly: scale * n is exact (an 11-bit by 8-bit product), and
 * of the three ways to compare, the one used subtracts numbers within a factor 2 of each other, which
 * is exact (Sterbenz); hi - zero itself may round when the two are far apart.
 */
fn scale_covers(scale: f32, n: f32, zero: f32, hi: f32) -> bool {
  let t = scale * n;
  if ((zero >= 0.0) == (hi >= 0.0) && 2.0 * abs(zero) >= abs(hi) && 2.0 * abs(hi) >= abs(zero)) { return t >= hi - zero; }
  if (hi > 0.0 && t <= 2.0 * hi && hi <= 2.0 * t) { return t - hi >= -zero; }
  if (zero < 0.0 && t <= -2.0 * zero && -zero <= 2.0 * t) { return t + zero >= hi; }
  return t + zero >= hi;
}

fn group_scale(lo: f32, hi: f32, bits: u32) -> GroupScale {
  let levels = (1u << bits) - 1u;
  let n = f32(levels);
  let zero_bits = f16_floor(lo);
  let zero = f16_value(zero_bits);
  // The smallest f16 s with s * levels >= hi - zero. The f32 quotient picks a candidate (WGSL allows 2.5
  // ulp for division, and GPUs use it); exact comparisons settle it.
  var scale_bits = f16_ceil((hi - zero) / n);
  if (!scale_covers(f16_value(scale_bits), n, zero, hi)) {
    scale_bits += 1u;
  } else if (scale_bits > 0u && scale_bits < 0x8000u && scale_covers(f16_value(scale_bits - 1u), n, zero, hi)) {
    scale_bits -= 1u;
  }
  return GroupScale(scale_bits | (zero_bits << 16u), zero, f16_value(scale_bits), levels);
}

/** Appends codes to a little-endian bitstream of u32 words in x_pool. */
struct CodeWriter {
  at: u32,
  word: u32,
  used: u32,
}

fn put_code(w: ptr<function, CodeWriter>, code: u32, bits: u32) {
  (*w).word |= code << (*w).used;
  if ((*w).used + bits >= 32u) {
    x_pool[(*w).at] = (*w).word;
    (*w).at++;
    // the bits of `code` that did not fit start the next word
    (*w).word = select(0u, code >> (32u - (*w).used), (*w).used > 0u && (*w).used + bits > 32u);
    (*w).used = (*w).used + bits - 32u;
  } else {
    (*w).used += bits;
  }
}

fn flush_codes(w: ptr<function, CodeWriter>) {
  if ((*w).used > 0u) { x_pool[(*w).at] = (*w).word; }
}
