// Temperature / top-k / top-p sampling on the GPU, so only the chosen id is read back. Implements
// pickToken of src/engine/sampling.ts without sorting: the top-k and top-p cuts are found by bisection
// over logits mapped to order-preserving u32 keys (32 halvings find a cut exactly), each step one
// workgroup-wide reduction. The draw step.rand then walks the kept tokens in vocabulary order.
// One workgroup. Reads logits row 0. Constants: V.

@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> chosen: array<u32>;

const N: u32 = 256u;
var<workgroup> red: array<f32, N>;
var<workgroup> shared_u: u32;

/** Order-preserving map f32 -> u32: a < b exactly when key(a) < key(b). */
fn key(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  return select(b | 0x80000000u, ~b, (b >> 31u) == 1u);
}

fn reduce(v: f32, lid: u32, take_max: bool) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var w = N / 2u; w > 0u; w >>= 1u) {
    if (lid < w) {
      red[lid] = select(red[lid] + red[lid + w], max(red[lid], red[lid + w]), take_max);
    }
    workgroupBarrier();
  }
  let total = workgroupUniformLoad(&red[0]);
  workgroupBarrier();
  return total;
}

fn weight(z: f32, mx: f32) -> f32 {
  return exp((z - mx) * step.inv_temp);
}

/** Tokens (count) or probability mass at or above the key cut `at`, among those at or above `floor_key`. */
fn above(at: u32, floor_key: u32, mx: f32, lid: u32, mass: bool) -> f32 {
  var s = 0.0;
  for (var i = lid; i < V; i += N) {
    let k = key(logits[i]);
    if (k >= at && k >= floor_key) { s += select(1.0, weight(logits[i], mx), mass); }
  }
  return reduce(s, lid, false);
}

@compute @workgroup_size(N)
fn main(@builtin(local_invocation_index) lid: u32) {
  var m = -3.4e38;
  for (var i = lid; i < V; i += N) { m = max(m, logits[i]); }
  let mx = reduce(m, lid, true);

  // top-k: the largest key with at least top_k tokens at or above it.
  var cut = 0u;
  if (step.top_k > 0u && step.top_k < V) {
    var lo = 0u;
    var hi = 0xffffffffu;
    for (var it = 0u; it < 32u; it++) {
      let mid = lo + (hi - lo) / 2u + (hi - lo) % 2u;
      if (above(mid, 0u, mx, lid, false) >= f32(step.top_k)) { lo = mid; } else { hi = mid - 1u; }
    }
    cut = lo;
  }
  // top-p: the largest key whose tokens at or above it hold top_p of the kept mass.
  if (step.top_p < 1.0) {
    let need = step.top_p * above(0u, cut, mx, lid, true);
    var lo = cut;
    var hi = 0xffffffffu;
    for (var it = 0u; it < 32u; it++) {
      let mid = lo + (hi - lo) / 2u + (hi - lo) % 2u;
      if (above(mid, cut, mx, lid, true) >= need) { lo = mid; } else { hi = mid - 1u; }
    }
    cut = lo;
  }

  // Walk: invocation lid holds a contiguous slice; slice sums, then one invocation finds the token.
  let per = (V + N - 1u) / N;
  var s = 0.0;
  for (var i = lid * per; i < min(V, (lid + 1u) * per); i++) {
    if (key(logits[i]) >= cut) { s += weight(logits[i], mx); }
  }
  red[lid] = s;
  workgroupBarrier();
  if (lid == 0u) {
    var total = 0.0;
    for (var t = 0u; t < N; t++) { total += red[t]; }
    var r = step.rand * total;
    var last = 0u;
    var pick = 0xffffffffu;
    for (var t = 0u; t < N && pick == 0xffffffffu; t++) {
      if (r >= red[t]) {
        r -= red[t];
        continue;
      }
      for (var i = t * per; i < min(V, (t + 1u) * per); i++) {
        if (key(logits[i]) < cut) { continue; }
        last = i;
        r -= weight(logits[i], mx);
        if (r < 0.0) { pick = i; break; }
      }
    }
    if (pick == 0xffffffffu) {
      // Rounding left r just above the mass: take the last kept token.
      for (var i = 0u; i < V; i++) { if (key(logits[i]) >= cut) { last = i; } }
      pick = last;
    }
    chosen[0] = pick;
  }
}
