// Prepended to every kernel (after the generated constants): the per-forward values every dispatch of a
// step shares, written once per forward, and the flat invocation index of 2-D dispatch grids (grids fold
// into y beyond 65535 workgroups).

struct Step {
  tokens: u32,      // new tokens in this forward (M)
  pos0: u32,        // absolute position of the first of them
  chunks: u32,      // attention: key chunks per query
  chunk_len: u32,   // attention: keys per chunk
  x_chunks: u32,    // rematerializing attention (xquant modes): chunks over the past tokens
  x_chunk_len: u32, // rematerializing attention: past tokens per chunk
  first_key: u32,   // quantized modes: first key of the standard attention (older ones are rematerialized)
  min_p: f32,       // sampling: keep tokens with at least min_p x the top token's probability (0 = no cut)
  rand: f32,        // sampling: uniform draw in [0, 1)
  inv_temp: f32,    // sampling: 1 / temperature
  top_k: u32,       // sampling: 0 = no cut
  top_p: f32,       // sampling: 1 = no cut
  remat_from: u32,  // quantized prefill: first past token rebuilt into the transient rows (older ones are there already)
}

@group(0) @binding(0) var<uniform> step: Step;

/** Eight consecutive weights of a row, what every weights-*.wgsl's w8 returns. */
struct W8 { a: vec4<f32>, b: vec4<f32> }

const WG: u32 = 64u;

fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

/**
 * Keys [x, y) that chunk c of `chunks` covers for a query at position `qpos` that sees keys [start, end): `len`
 * keys a chunk from `start`, the forward's split. Under a sliding window (window > 0) the chunks split the
 * window's own keys instead: the forward's split is sized for the whole context, and at a long one it would
 * leave all but the last chunk or two empty and the window's keys to one or two workgroups.
 */
fn chunk_keys(c: u32, chunks: u32, len: u32, start: u32, end: u32, qpos: u32, window: u32) -> vec2<u32> {
  if (window == 0u) { return vec2<u32>(start + c * len, min(start + (c + 1u) * len, end)); }
  let first = select(start, max(start, qpos + 1u - window), qpos + 1u > window);
  let span = select(0u, end - first, end > first);
  let per = max(1u, (span + chunks - 1u) / chunks);
  let lo = first + c * per;
  return vec2<u32>(lo, min(lo + per, end));
}

// f32 <-> f16 by integer operations, rounding to nearest even exactly as the reference (src/quant/f16.ts).
// WGSL leaves pack2x16float's rounding direction to the implementation, and a driver may treat
// unpack2x16float(pack2x16float(v)) as v (Mesa's llvmpipe does), so neither may decide stored values.
fn f16_bits(v: f32) -> u32 {
  let x = bitcast<u32>(v);
  let sign = (x >> 16u) & 0x8000u;
  let exp = (x >> 23u) & 0xffu;
  let mant = x & 0x7fffffu;
  if (exp == 0xffu) { return sign | 0x7c00u | select(0u, 0x200u, mant != 0u); }
  let e = i32(exp) - 112; // the f16 exponent field
  if (e >= 31) { return sign | 0x7c00u; }
  if (e <= 0) {
    if (e < -10) { return sign; }
    let full = mant | 0x800000u;
    let shift = u32(14 - e);
    let half = 1u << (shift - 1u);
    let rest = full & ((1u << shift) - 1u);
    var m = full >> shift;
    if (rest > half || (rest == half && (m & 1u) == 1u)) { m += 1u; }
    return sign | m; // a carry into the smallest normal is the right encoding
  }
  let rest = mant & 0x1fffu;
  var h = (u32(e) << 10u) | (mant >> 13u);
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u) == 1u)) { h += 1u; } // a carry into the exponent is right, up to infinity
  return sign | h;
}

fn f16_value(h: u32) -> f32 {
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0u) { return bitcast<f32>(sign | bitcast<u32>(f32(m) * 5.9604644775390625e-8)); } // m * 2^-24, exact
  if (e == 31u) { return bitcast<f32>(sign | 0x7f800000u | (m << 13u)); }
  return bitcast<f32>(sign | ((e + 112u) << 23u) | (m << 13u));
}

/** Two f16 values in one u32, `a` in the low half (pack2x16float's layout). */
fn pack_f16(a: f32, b: f32) -> u32 {
  return f16_bits(a) | (f16_bits(b) << 16u);
}
