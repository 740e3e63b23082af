// What both sampling kernels share (sample.wgsl in one workgroup, sample-split.wgsl over many): the order-preserving
// key of a logit, a kept token's weight, a workgroup reduction, and one radix pass's pieces (which keys a pass
// counts, the 16 bins summed over the workgroup, the digit the bins choose), and the draw's walk. Sums over the
// workgroup are serial over one workgroup-memory column each: two barriers, where a tree takes log2(N) (barriers
// dominate on CPU adapters and cost as much as N adds on a GPU). Needs `step` (inv_temp), `logits`, and the
// kernel's N (invocations) and LANES (bins summed at once, dividing 16).

const BINS: u32 = 16u; // one 4-bit digit
var<workgroup> red: array<f32, N * LANES>;
var<workgroup> bins: array<f32, BINS>;
var<workgroup> walked: u32;

/** Order-preserving map f32 -> u32: a < b exactly when key(a) < key(b). */
fn key(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  return select(b | 0x80000000u, ~b, (b >> 31u) == 1u);
}

fn weight(z: f32, mx: f32) -> f32 {
  return exp((z - mx) * step.inv_temp);
}

/** The workgroup's sum (or max) of v. Call from uniform control flow. */
fn reduce(v: f32, lid: u32, take_max: bool) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  if (lid == 0u) {
    var r = red[0];
    for (var i = 1u; i < N; i++) { r = select(r + red[i], max(r, red[i]), take_max); }
    bins[0] = r;
  }
  let total = workgroupUniformLoad(&bins[0]);
  workgroupBarrier();
  return total;
}

/** A pass at digit `shift` counts the keys at or above floor_key whose bits above the digit equal prefix's. */
fn counted(k: u32, prefix: u32, shift: u32, floor_key: u32) -> bool {
  let all = shift + 4u >= 32u;
  let top = min(shift + 4u, 31u);
  return (all || (k >> top) == (prefix >> top)) && k >= floor_key;
}

/** Each invocation's bins h summed over the workgroup into `bins`. Call from uniform control flow. */
fn sum_bins(h: array<f32, BINS>, lid: u32) {
  for (var part = 0u; part < BINS / LANES; part++) {
    for (var b = 0u; b < LANES; b++) { red[b * N + lid] = h[part * LANES + b]; }
    workgroupBarrier();
    if (lid < LANES) {
      var s = 0.0;
      for (var i = 0u; i < N; i++) { s += red[lid * N + i]; }
      bins[part * LANES + lid] = s;
    }
    workgroupBarrier();
  }
}

/**
 * From the top digit down, the first whose bins at and above it, plus `above` (what higher prefixes held), reach
 * `goal`: (digit, above + the bins above it). Reads `bins`.
 */
fn pick_digit(above: f32, goal: f32) -> vec2<f32> {
  var acc = above;
  for (var b = BINS; b > 0u; b--) {
    if (acc + bins[b - 1u] >= goal) { return vec2(f32(b - 1u), acc); }
    acc += bins[b - 1u];
  }
  return vec2(0.0, acc);
}

/**
 * The draw: the kept token (key >= cut) of [lo, hi) where the running mass, in vocabulary order, passes `draw`
 * (x their whole mass when `scaled`). Invocation lid sums a contiguous piece; one invocation then walks the piece
 * the draw lands in. Where rounding leaves the draw at or past the mass, the last kept token before hi.
 * Call from uniform control flow.
 */
fn walk(lo: u32, hi: u32, cut: u32, mx: f32, draw: f32, scaled: bool, lid: u32) -> u32 {
  let per = (hi - lo + N - 1u) / N;
  let a = lo + lid * per;
  var s = 0.0;
  for (var i = a; i < min(hi, a + per); i++) {
    if (key(logits[i]) >= cut) { s += weight(logits[i], mx); }
  }
  red[lid] = s;
  workgroupBarrier();
  if (lid == 0u) {
    var r = draw;
    if (scaled) {
      var total = 0.0;
      for (var t = 0u; t < N; t++) { total += red[t]; }
      r *= total;
    }
    var pick = 0xffffffffu;
    for (var t = 0u; t < N && pick == 0xffffffffu; t++) {
      if (r >= red[t]) {
        r -= red[t];
        continue;
      }
      for (var i = lo + t * per; i < min(hi, lo + (t + 1u) * per); i++) {
        if (key(logits[i]) < cut) { continue; }
        r -= weight(logits[i], mx);
        if (r < 0.0) { pick = i; break; }
      }
    }
    walked = pick;
  }
  let found = workgroupUniformLoad(&walked);
  if (found != 0xffffffffu) { return found; }
  // Rounding left the draw just above the mass: take the last kept token before hi (sample-split.wgsl chose this slice
  // by masses summed in another order, so a later slice's token would be a bias).
  var last = -1.0;
  for (var i = lid; i < hi; i += N) {
    if (key(logits[i]) >= cut) { last = f32(i); }
  }
  return u32(reduce(last, lid, true));
}
