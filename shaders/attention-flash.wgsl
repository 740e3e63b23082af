// Causal attention shaped for real GPUs (kernel family tiled), prefill and decode: one workgroup per (query
// tile, kv head, key chunk). Its ROWS = Q_TOKENS x KV_GROUP query rows (Q_TOKENS consecutive tokens, every
// query head of the kv head's group; decode is the one-token tile, flash-decoding) share each key and value
// row: keys go in tiles of TILE, invocation i scores key i of the tile against all rows (queries staged in
// workgroup memory, read by every invocation at once), each row's running max and sum are updated once per
// tile, and values are accumulated with invocations over head dimensions (adjacent invocations read
// adjacent elements of a value row). The causal limit and the sliding window are per row: a masked score
// weighs 0. Writes the (max, sum, weighted V sum) partials of attention-split.wgsl, so attention-merge.wgsl
// combines the chunks. Keys before pos0 come from the pool, the step's own keys exact from k_cur/v_cur.
// With APPEND the chunk-0 workgroups also store their tokens' K/V (attention-pool-append.wgsl).
// Queries are staged in T (declared by the op: f32, or f16 with shader-f16, which halves the staged
// queries so more rows share each K/V read). The arithmetic is f32 throughout, in the reference's order
// (sum of q·k, then the scale): f16 dots of q and k lose whole units of score on models with K outliers in
// the hundreds (products of f16 operands are exact in f32), and another order of the f32 sums (4-term dots,
// or q scaled first) moved a last bit that flipped a quantization code downstream (stories260K xquant-cl-4:
// logits 3.6e-3 off). Constants: HEAD_DIM, HEADS, KV_GROUP, Q_STRIDE, KV_DIM, K_STRIDE, PAGE, KV_F16,
// WINDOW, SCALE, APPEND, Q_TOKENS; the op also declares `alias T`.

@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k_cur: array<f32>;
@group(0) @binding(3) var<storage, read> v_cur: array<f32>;
@group(0) @binding(4) var<storage, read> pages: array<u32>;
// k_pool, v_pool (bindings 5, 6) and append_kv come from attention-pool-read.wgsl or attention-pool-append.wgsl.
@group(0) @binding(7) var<storage, read_write> partial: array<f32>;

const TILE: u32 = 64u;
const ROWS: u32 = Q_TOKENS * KV_GROUP;
const DIMS: u32 = (HEAD_DIM + TILE - 1u) / TILE; // head dimensions per invocation when accumulating values
const NEG: f32 = -3.0e38;

var<workgroup> qs: array<T, ROWS * HEAD_DIM>;
var<workgroup> ps: array<f32, ROWS * TILE>; // scores, then probabilities, of the tile's keys
var<workgroup> run_max: array<f32, ROWS>;
var<workgroup> run_sum: array<f32, ROWS>;
var<workgroup> corr: array<f32, ROWS>;

fn pool_slot(t: u32) -> u32 {
  return pages[t / PAGE] * PAGE + t % PAGE;
}

/** Elements d and d + 1 of key row t of this kv head (the pool holds f16 pairs or f32 words). */
fn key_pair(t: u32, d: u32, kv_off: u32) -> vec2<f32> {
  if (t >= step.pos0) {
    let i = (t - step.pos0) * K_STRIDE + kv_off + d;
    return vec2(k_cur[i], k_cur[i + 1u]);
  }
  if (KV_F16) { return unpack2x16float(k_pool[pool_slot(t) * (KV_DIM / 2u) + (kv_off + d) / 2u]); }
  let w = pool_slot(t) * KV_DIM + kv_off + d;
  return bitcast<vec2<f32>>(vec2(k_pool[w], k_pool[w + 1u]));
}

/** Element d of value row t. */
fn value_at(t: u32, d: u32, kv_off: u32) -> f32 {
  if (t >= step.pos0) { return v_cur[(t - step.pos0) * K_STRIDE + kv_off + d]; }
  if (KV_F16) {
    let pair = unpack2x16float(v_pool[pool_slot(t) * (KV_DIM / 2u) + (kv_off + d) / 2u]);
    return select(pair.x, pair.y, (d & 1u) == 1u);
  }
  return bitcast<f32>(v_pool[pool_slot(t) * KV_DIM + kv_off + d]);
}

/** Whether row r (token r / KV_GROUP of the tile) may see key t. */
fn visible(first_token: u32, r: u32, t: u32) -> bool {
  let m = first_token + r / KV_GROUP;
  let qpos = step.pos0 + m;
  return m < step.tokens && t <= qpos && (WINDOW == 0u || t + WINDOW > qpos);
}

@compute @workgroup_size(TILE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = wid.x + wid.y * nwg.x;
  let kv_heads = HEADS / KV_GROUP;
  let c = group % step.chunks;
  let kvh = (group / step.chunks) % kv_heads;
  let first_token = group / (step.chunks * kv_heads) * Q_TOKENS;
  if (first_token >= step.tokens) { return; }
  let last_token = min(first_token + Q_TOKENS, step.tokens) - 1u;
  // Keys of this chunk that some row of the tile may see.
  let keys = chunk_keys(c, step.chunks, step.chunk_len, 0u, step.pos0 + last_token + 1u, step.pos0 + first_token, WINDOW);
  let lo = keys.x;
  let hi = keys.y;
  let kv_off = kvh * HEAD_DIM;
  if (APPEND && c == 0u && lid < Q_TOKENS && first_token + lid < step.tokens) { append_kv(first_token + lid, kv_off); }
  for (var e = lid; e < ROWS * HEAD_DIM; e += TILE) {
    let r = e / HEAD_DIM;
    let m = min(first_token + r / KV_GROUP, step.tokens - 1u); // rows past the slice repeat its last query; never written
    qs[e] = T(q[m * Q_STRIDE + (kvh * KV_GROUP + r % KV_GROUP) * HEAD_DIM + e % HEAD_DIM]);
  }
  if (lid < ROWS) {
    run_max[lid] = NEG;
    run_sum[lid] = 0.0;
  }
  var acc: array<f32, ROWS * DIMS>;
  workgroupBarrier();
  for (var t0 = lo; t0 < hi; t0 += TILE) {
    // Scores: invocation lid takes key t0 + lid for every row; its key row is read once.
    let t = t0 + lid;
    var s: array<f32, ROWS>;
    for (var r = 0u; r < ROWS; r++) { s[r] = 0.0; } // zeroed per tile explicitly: dawn.node's SwiftShader kept the last tile's sums
    if (t < hi) {
      for (var d = 0u; d < HEAD_DIM; d += 2u) {
        let k = key_pair(t, d, kv_off);
        for (var r = 0u; r < ROWS; r++) { s[r] += f32(qs[r * HEAD_DIM + d]) * k.x + f32(qs[r * HEAD_DIM + d + 1u]) * k.y; }
      }
    }
    for (var r = 0u; r < ROWS; r++) { ps[r * TILE + lid] = select(NEG, s[r] * SCALE, t < hi && visible(first_token, r, t)); }
    workgroupBarrier();
    // Per row: the tile's max joins the running max; corr rescales what came before.
    if (lid < ROWS) {
      var mt = NEG;
      for (var i = 0u; i < TILE; i++) { mt = max(mt, ps[lid * TILE + i]); }
      let m_new = max(run_max[lid], mt);
      corr[lid] = exp(run_max[lid] - m_new);
      run_max[lid] = m_new;
    }
    workgroupBarrier();
    // A masked key weighs 0 (also while a row has seen no key yet and its max is still NEG).
    for (var r = 0u; r < ROWS; r++) {
      let v = ps[r * TILE + lid];
      ps[r * TILE + lid] = select(0.0, exp(v - run_max[r]), v > NEG);
    }
    workgroupBarrier();
    if (lid < ROWS) {
      var sum = 0.0;
      for (var i = 0u; i < TILE; i++) { sum += ps[lid * TILE + i]; }
      run_sum[lid] = run_sum[lid] * corr[lid] + sum;
    }
    // Values: invocation lid owns head dimensions lid, lid + TILE, ...
    let n = min(TILE, hi - t0);
    for (var k = 0u; k < DIMS; k++) {
      let d = lid + k * TILE;
      if (d >= HEAD_DIM) { break; }
      for (var r = 0u; r < ROWS; r++) { acc[r * DIMS + k] *= corr[r]; }
      for (var i = 0u; i < n; i++) {
        let v = value_at(t0 + i, d, kv_off);
        for (var r = 0u; r < ROWS; r++) { acc[r * DIMS + k] += ps[r * TILE + i] * v; }
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < ROWS; r++) {
    let m = first_token + r / KV_GROUP;
    if (m >= step.tokens) { break; }
    let out = ((m * HEADS + kvh * KV_GROUP + r % KV_GROUP) * step.chunks + c) * (HEAD_DIM + 2u);
    if (lid == 0u) {
      partial[out] = run_max[r];
      partial[out + 1u] = run_sum[r];
    }
    for (var k = 0u; k < DIMS; k++) {
      let d = lid + k * TILE;
      if (d < HEAD_DIM) { partial[out + 2u + d] = acc[r * DIMS + k]; }
    }
  }
}
