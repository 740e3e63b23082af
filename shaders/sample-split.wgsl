// Sampling over many workgroups, the tiled family's: sample.wgsl's radix search (read it first) split into
// dispatches, so each pass reads the vocabulary once with G workgroups of PER logits each instead of with one
// workgroup, which leaves a GPU's other cores idle for 18 passes over 128K-152K logits. Phases, one dispatch each:
//   0        each slice's max;
//   1 + p    radix pass p (0-7: top-k's digits, 8-15: top-p's). Every workgroup first decides pass p - 1 from
//            its G x 16 bins (each workgroup sums them in the same order, so all decide alike; workgroup 0 stores
//            the result for the next phase), then bins its slice for pass p. A cut not asked for skips its bins;
//   17       decides the last pass, applies min-p and the constraint mask, and sums each slice's kept mass;
//   18       (one workgroup) the draw, walked in the slice it lands in.
// Constants: V, G, PER (= ceil(V / G)). Bindings: logits, chosen, scratch (f32 words at the offsets below), the
// phase uniform. Prefix: include/sample-radix.wgsl.

@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> chosen: array<u32>;
@group(0) @binding(3) var<storage, read_write> scratch: array<f32>;
@group(0) @binding(4) var<uniform> phase: vec4<u32>;

const N: u32 = 64u;
const LANES: u32 = 16u; // red holds 4 KiB
const PASSES: u32 = 16u;
const MAXES: u32 = 0u; // G slice maxima
const HIST: u32 = G; // PASSES x G x BINS
const STATE: u32 = HIST + PASSES * G * BINS; // (PASSES + 1) x 4: the search before pass p (prefix, above, goal, floor)
const MASS: u32 = STATE + (PASSES + 1u) * 4u; // G kept masses

/** A cut's search so far: the key's digits found, what the bins above them held, the goal, and the keys' floor. */
struct Search { prefix: u32, above: f32, goal: f32, floor: u32 }

var<workgroup> decided: Search;

fn asked(p: u32) -> bool {
  if (p < 8u) { return step.top_k > 0u && step.top_k < V; }
  return step.top_p < 1.0;
}

/** A cut's first goal: top_k tokens, or top_p of the kept mass. */
fn need(p: u32) -> f32 {
  return select(step.top_p, f32(step.top_k), p < 8u);
}

fn stored(p: u32) -> Search {
  let o = STATE + 4u * p;
  return Search(bitcast<u32>(scratch[o]), scratch[o + 1u], scratch[o + 2u], bitcast<u32>(scratch[o + 3u]));
}

fn store(p: u32, s: Search) {
  let o = STATE + 4u * p;
  scratch[o] = bitcast<f32>(s.prefix);
  scratch[o + 1u] = s.above;
  scratch[o + 2u] = s.goal;
  scratch[o + 3u] = bitcast<f32>(s.floor);
}

/**
 * The search before pass p (1-16): pass p - 1 decided from its bins over every slice, then, where p starts a cut,
 * that cut begun with the finished one's key as its floor. Call from uniform control flow.
 */
fn search_before(p: u32, lid: u32) -> Search {
  let q = p - 1u;
  if (lid < BINS) {
    var b = 0.0;
    for (var g = 0u; g < G; g++) { b += scratch[HIST + (q * G + g) * BINS + lid]; }
    bins[lid] = b;
  }
  workgroupBarrier();
  if (lid == 0u) {
    let s = stored(q);
    var r = s;
    if (asked(q)) {
      var goal = s.goal;
      if (q == 8u) {
        // top-p's first pass sees every kept token: its goal is top_p of their mass.
        var total = 0.0;
        for (var b = 0u; b < BINS; b++) { total += bins[b]; }
        goal *= total;
      }
      let d = pick_digit(s.above, goal);
      r = Search(s.prefix | (u32(d.x) << (28u - 4u * (q % 8u))), d.y, goal, s.floor);
    }
    if (p % 8u == 0u) { r = Search(0u, 0.0, need(p), select(s.floor, r.prefix, asked(q))); }
    decided = r;
  }
  return workgroupUniformLoad(&decided);
}

fn global_max(lid: u32) -> f32 {
  var m = -3.4e38;
  for (var g = lid; g < G; g += N) { m = max(m, scratch[MAXES + g]); }
  return reduce(m, lid, true);
}

@compute @workgroup_size(N)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let ph = phase.x;
  let g = wid.x;
  let lo = g * PER;
  let hi = min(V, lo + PER);
  if (ph == 0u) {
    var m = -3.4e38;
    for (var i = lo + lid; i < hi; i += N) { m = max(m, logits[i]); }
    let mx = reduce(m, lid, true);
    if (lid == 0u) {
      scratch[MAXES + g] = mx;
      if (g == 0u) { store(0u, Search(0u, 0.0, need(0u), 0u)); }
    }
    return;
  }
  if (ph == 18u) {
    if (lid == 0u) {
      // The slice the draw lands in, and what is left of the draw there.
      var total = 0.0;
      for (var u = 0u; u < G; u++) { total += scratch[MASS + u]; }
      var r = step.rand * total;
      var t = 0u;
      while (t + 1u < G && r >= scratch[MASS + t]) {
        r -= scratch[MASS + t];
        t++;
      }
      bins[0] = r;
      walked = t;
    }
    let r = workgroupUniformLoad(&bins[0]);
    let t = workgroupUniformLoad(&walked);
    let cut = bitcast<u32>(scratch[STATE + 4u * PASSES]);
    let pick = walk(t * PER, min(V, (t + 1u) * PER), cut, global_max(lid), r, false, lid);
    if (lid == 0u) { chosen[0] = pick; }
    return;
  }
  let p = ph - 1u; // 0-15: a radix pass; 16: the kept mass
  if (p < PASSES && !asked(p) && (p == 0u || !asked(p - 1u))) {
    // Nothing to bin, nothing to decide: workgroup 0 carries the search on.
    if (p > 0u && g == 0u && lid == 0u) {
      var s = stored(p - 1u);
      if (p % 8u == 0u) { s = Search(0u, 0.0, need(p), s.floor); }
      store(p, s);
    }
    return;
  }
  let mx = global_max(lid);
  var s = stored(0u);
  if (p > 0u) {
    s = search_before(p, lid);
    if (g == 0u && lid == 0u) { store(p, s); }
  }
  if (p == PASSES) {
    // min-p: weight(z) >= min_p, that is z >= mx + ln(min_p) / inv_temp (the top token always stays); a token masked
    // by a constraint (logit -3e38) is never kept, even where top-k reaches past the allowed ones.
    var cut = s.floor;
    if (step.min_p > 0.0) { cut = max(cut, key(mx + log(step.min_p) / step.inv_temp)); }
    cut = max(cut, key(-2.9e38));
    var m = 0.0;
    for (var i = lo + lid; i < hi; i += N) {
      if (key(logits[i]) >= cut) { m += weight(logits[i], mx); }
    }
    let kept = reduce(m, lid, false);
    if (lid == 0u) {
      scratch[MASS + g] = kept;
      if (g == 0u) { scratch[STATE + 4u * PASSES] = bitcast<f32>(cut); }
    }
    return;
  }
  if (!asked(p)) { return; }
  let shift = 28u - 4u * (p % 8u);
  let mass = p >= 8u;
  var h: array<f32, BINS>;
  for (var b = 0u; b < BINS; b++) { h[b] = 0.0; }
  for (var i = lo + lid; i < hi; i += N) {
    let k = key(logits[i]);
    if (counted(k, s.prefix, shift, s.floor)) { h[(k >> shift) & 15u] += select(1.0, weight(logits[i], mx), mass); }
  }
  sum_bins(h, lid);
  if (lid < BINS) { scratch[HIST + (p * G + g) * BINS + lid] = bins[lid]; }
}
