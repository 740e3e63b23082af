// Causal attention, split-K (flash-decoding) half: invocation (m, head, chunk) runs an online softmax over
// the keys of one chunk that query m may see, and writes (max, sum, weighted V sum) to `partial`;
// attention-merge.wgsl combines the chunks. Decode (one query) spreads a long context over many
// invocations this way; prefill uses the same kernel with the causal limit per query.
// Keys before pos0 come from the paged cache; keys of the step's own tokens come exact from k_cur/v_cur
// (the cache may hold them rounded), as in the reference decoder's prefill.
// With OWN_ONLY (quantized modes) the chunks cover keys from step.first_key on: the step's own keys and,
// in a tiered cache, the hot tokens whose fp16 K/V sit in the pool; they are written from partial slot 1,
// slot 0 holding the rematerializing attention over older tokens (xquant-values.wgsl).
// With APPEND the step's K and V also enter the pool here (the fp16/f32 cache, one dispatch fewer than a
// separate kv-append): invocation (m, first query head of a kv group, chunk 0) writes token m's slot of
// that kv head. No invocation reads those slots: keys from pos0 on are read from k_cur/v_cur.
// Constants: HEAD_DIM, HEADS, KV_GROUP (query heads per kv head), Q_STRIDE, KV_DIM, K_STRIDE, PAGE,
// KV_F16, WINDOW (0 = no sliding window), SCALE (1 / sqrt(head_dim)), OWN_ONLY, APPEND.

@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k_cur: array<f32>;
@group(0) @binding(3) var<storage, read> v_cur: array<f32>;
@group(0) @binding(4) var<storage, read> pages: array<u32>;
// k_pool and v_pool (bindings 5, 6) and append_kv come from attention-pool-read.wgsl or, with APPEND,
// attention-pool-append.wgsl.
@group(0) @binding(7) var<storage, read_write> partial: array<f32>;

var<private> acc: array<f32, HEAD_DIM>;
var<private> mx: f32;
var<private> sum: f32;

/** q · key, the key at `slot` of the pool (kv_off selects the kv head). */
fn dot_pool(q_off: u32, slot: u32, kv_off: u32) -> f32 {
  var s = 0.0;
  if (KV_F16) {
    let base = slot * (KV_DIM / 2u) + kv_off / 2u;
    for (var d = 0u; d < HEAD_DIM; d += 2u) {
      let kp = unpack2x16float(k_pool[base + d / 2u]);
      s += q[q_off + d] * kp.x + q[q_off + d + 1u] * kp.y;
    }
  } else {
    let base = slot * KV_DIM + kv_off;
    for (var d = 0u; d < HEAD_DIM; d++) { s += q[q_off + d] * bitcast<f32>(k_pool[base + d]); }
  }
  return s;
}

fn dot_cur(q_off: u32, row: u32) -> f32 {
  var s = 0.0;
  for (var d = 0u; d < HEAD_DIM; d++) { s += q[q_off + d] * k_cur[row + d]; }
  return s;
}

/** Online softmax: fold score s in; returns the weight of this key's value. */
fn fold(score: f32) -> f32 {
  let s = score * SCALE;
  if (s > mx) {
    let corr = exp(mx - s);
    sum *= corr;
    for (var d = 0u; d < HEAD_DIM; d++) { acc[d] *= corr; }
    mx = s;
  }
  let p = exp(s - mx);
  sum += p;
  return p;
}

fn add_pool(p: f32, slot: u32, kv_off: u32) {
  if (KV_F16) {
    let base = slot * (KV_DIM / 2u) + kv_off / 2u;
    for (var d = 0u; d < HEAD_DIM; d += 2u) {
      let vp = unpack2x16float(v_pool[base + d / 2u]);
      acc[d] += p * vp.x;
      acc[d + 1u] += p * vp.y;
    }
  } else {
    let base = slot * KV_DIM + kv_off;
    for (var d = 0u; d < HEAD_DIM; d++) { acc[d] += p * bitcast<f32>(v_pool[base + d]); }
  }
}

fn add_cur(p: f32, row: u32) {
  for (var d = 0u; d < HEAD_DIM; d++) { acc[d] += p * v_cur[row + d]; }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = flat_id(gid, nwg);
  let c = id % step.chunks;
  let h = (id / step.chunks) % HEADS;
  let m = id / (step.chunks * HEADS);
  if (m >= step.tokens) { return; }
  let qpos = step.pos0 + m;
  let first_key = select(0u, step.first_key, OWN_ONLY);
  let keys = chunk_keys(c, step.chunks, step.chunk_len, first_key, qpos + 1u, qpos, WINDOW);
  let lo = keys.x;
  let hi = keys.y;
  let kv_off = (h / KV_GROUP) * HEAD_DIM;
  let q_off = m * Q_STRIDE + h * HEAD_DIM;
  if (APPEND && c == 0u && h % KV_GROUP == 0u) { append_kv(m, kv_off); }

  mx = -3.0e38;
  sum = 0.0;
  // Keys cached by earlier forwards, page by page.
  var t = lo;
  let cached_end = min(hi, step.pos0);
  while (t < cached_end) {
    let page_end = min(cached_end, (t / PAGE + 1u) * PAGE);
    let page_base = pages[t / PAGE] * PAGE;
    for (; t < page_end; t++) {
      let slot = page_base + t % PAGE;
      add_pool(fold(dot_pool(q_off, slot, kv_off)), slot, kv_off);
    }
  }
  // This step's own keys, exact.
  for (t = max(lo, step.pos0); t < hi; t++) {
    let row = (t - step.pos0) * K_STRIDE + kv_off;
    add_cur(fold(dot_cur(q_off, row)), row);
  }
  let slot0 = select(0u, 1u, OWN_ONLY);
  let out = ((m * HEADS + h) * (step.chunks + slot0) + slot0 + c) * (HEAD_DIM + 2u);
  partial[out] = mx;
  partial[out + 1u] = sum;
  for (var d = 0u; d < HEAD_DIM; d++) { partial[out + 2u + d] = acc[d]; }
}
