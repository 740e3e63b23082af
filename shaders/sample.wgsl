// Temperature / top-k / top-p / min-p sampling on the GPU, so only the chosen id is read back. Implements
// pickToken of src/engine/sampling.ts without sorting: logits map to order-preserving u32 keys and each cut
// is found by a radix search over them, 4 bits per pass: a pass histograms the candidates' next digit
// (count for top-k, probability mass for top-p) into 16 bins and keeps the highest bin that still holds
// enough. 8 passes find a cut exactly, so a token reads the vocabulary at most 1 (max) + 8 (top-k) + 8
// (top-p, whose first pass also sums the kept mass) + 1 (draw) = 18 times, where a bisection (one pass per
// halving, 32 per cut) took 67. The draw step.rand then walks the kept tokens in vocabulary order.
// One workgroup: sample-split.wgsl is the same search over many. Reads logits row 0. Constants: V. Prefix:
// include/sample-radix.wgsl.

@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> chosen: array<u32>;

const N: u32 = 256u;
const LANES: u32 = 8u; // red holds 8 KiB

var<workgroup> found: vec3<f32>; // a pass's chosen digit, what the bins above it held, its goal

/**
 * One radix pass: among tokens with key >= floor_key whose bits above `shift + 4` equal prefix's, the count
 * (or mass) per digit at `shift` goes to `bins`; then, from the top digit down, the first whose bins at and
 * above it, plus `above` (what higher prefixes held), reach the goal: `need`, or with `share` (top-p's first
 * pass, which sees every kept token) need x the bins' total, the kept mass. Returns (digit, above + the bins
 * above it, goal).
 */
fn radix_pass(prefix: u32, shift: u32, floor_key: u32, above: f32, need: f32, share: bool, mx: f32, lid: u32, mass: bool) -> vec3<f32> {
  var h: array<f32, BINS>;
  for (var b = 0u; b < BINS; b++) { h[b] = 0.0; }
  for (var i = lid; i < V; i += N) {
    let k = key(logits[i]);
    if (counted(k, prefix, shift, floor_key)) { h[(k >> shift) & 15u] += select(1.0, weight(logits[i], mx), mass); }
  }
  sum_bins(h, lid);
  if (lid == 0u) {
    var goal = need;
    if (share) {
      var total = 0.0;
      for (var b = 0u; b < BINS; b++) { total += bins[b]; }
      goal = need * total;
    }
    let d = pick_digit(above, goal);
    found = vec3(d.x, d.y, goal);
  }
  return workgroupUniformLoad(&found);
}

/**
 * The largest key whose tokens at or above it (and at or above floor_key) hold `need` tokens, or with `mass`
 * need (top_p) of the kept mass: 8 radix passes, from the top digit down.
 */
fn radix_cut(floor_key: u32, need: f32, mx: f32, lid: u32, mass: bool) -> u32 {
  var prefix = 0u;
  var above = 0.0;
  var goal = need;
  for (var shift = 32u; shift > 0u; shift -= 4u) {
    let r = radix_pass(prefix, shift - 4u, floor_key, above, goal, mass && shift == 32u, mx, lid, mass);
    prefix |= u32(r.x) << (shift - 4u);
    above = r.y;
    goal = r.z;
  }
  return prefix;
}

@compute @workgroup_size(N)
fn main(@builtin(local_invocation_index) lid: u32) {
  var m = -3.4e38;
  for (var i = lid; i < V; i += N) { m = max(m, logits[i]); }
  let mx = reduce(m, lid, true);

  // top-k: the largest key with at least top_k tokens at or above it.
  var cut = 0u;
  if (step.top_k > 0u && step.top_k < V) { cut = radix_cut(0u, f32(step.top_k), mx, lid, false); }
  // top-p: the largest key whose tokens at or above it hold top_p of the kept mass.
  if (step.top_p < 1.0) { cut = radix_cut(cut, step.top_p, mx, lid, true); }
  // min-p: weight(z) >= min_p, that is z >= mx + ln(min_p) / inv_temp (the top token always stays).
  if (step.min_p > 0.0) { cut = max(cut, key(mx + log(step.min_p) / step.inv_temp)); }
  // A token masked by a constraint (logit -3e38) is never kept, even where top-k reaches past the allowed ones.
  cut = max(cut, key(-2.9e38));

  let pick = walk(0u, V, cut, mx, step.rand, true, lid);
  if (lid == 0u) { chosen[0] = pick; }
}
