// Prefix of the kernels that quantize into the cache: the reference's quantizer (src/quant/quantize.ts)
// in WGSL. zero = f16 floor(min), scale = f16 ceil((max - zero) / (2^b - 1)), code = round half up.

fn f16_bits(v: f32) -> u32 {
  return pack2x16float(vec2<f32>(v, 0.0)) & 0xffffu;
}

fn f16_value(h: u32) -> f32 {
  return unpack2x16float(h).x;
}

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

