// Decode attention over the paged fp16/f32 cache, shaped for real GPUs (kernel class gpu; flash-decoding):
// one workgroup per (kv head, key chunk) serves every query head of that kv head's group, so each key and
// value row is read once per group rather than once per query head, and the grid has kv heads x chunks
// workgroups. Keys go in tiles of TILE: invocation i scores key i of the tile against the group's queries
// (staged in workgroup memory), the group's running max and sum are updated once per tile, and the values
// are accumulated with invocations over head dimensions (adjacent invocations read adjacent elements of a
// value row). Writes the same (max, sum, weighted V sum) partials as attention-split.wgsl, so
// attention-merge.wgsl combines them. One token per step (decode): keys before pos0 come from the pool,
// the step's own key and value from k_cur/v_cur. With APPEND the chunk-0 workgroup also stores the step's
// K/V (attention-pool-append.wgsl).
// Constants: HEAD_DIM, HEADS, KV_GROUP, Q_STRIDE, KV_DIM, K_STRIDE, PAGE, KV_F16, WINDOW, SCALE, APPEND.

@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k_cur: array<f32>;
@group(0) @binding(3) var<storage, read> v_cur: array<f32>;
@group(0) @binding(4) var<storage, read> pages: array<u32>;
// k_pool, v_pool (bindings 5, 6) and append_kv come from attention-pool-read.wgsl or attention-pool-append.wgsl.
@group(0) @binding(7) var<storage, read_write> partial: array<f32>;

const TILE: u32 = 64u;
const DIMS: u32 = (HEAD_DIM + TILE - 1u) / TILE; // head dimensions per invocation when accumulating values
const NEG: f32 = -3.0e38;

var<workgroup> qs: array<f32, KV_GROUP * HEAD_DIM>;
var<workgroup> ps: array<f32, KV_GROUP * TILE>; // scores, then probabilities, of the tile's keys
var<workgroup> run_max: array<f32, KV_GROUP>;
var<workgroup> run_sum: array<f32, KV_GROUP>;
var<workgroup> corr: array<f32, KV_GROUP>;

fn pool_slot(t: u32) -> u32 {
  return pages[t / PAGE] * PAGE + t % PAGE;
}

/** Element d of key (VALUE false) or value row t of this kv head. */
fn kv_at(t: u32, d: u32, kv_off: u32, value: bool) -> f32 {
  if (t >= step.pos0) {
    let i = (t - step.pos0) * K_STRIDE + kv_off + d;
    return select(k_cur[i], v_cur[i], value);
  }
  if (KV_F16) {
    let w = pool_slot(t) * (KV_DIM / 2u) + (kv_off + d) / 2u;
    let pair = unpack2x16float(select(k_pool[w], v_pool[w], value));
    return select(pair.x, pair.y, (d & 1u) == 1u);
  }
  let w = pool_slot(t) * KV_DIM + kv_off + d;
  return bitcast<f32>(select(k_pool[w], v_pool[w], value));
}

@compute @workgroup_size(TILE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = wid.x + wid.y * nwg.x;
  let c = group % step.chunks;
  let kvh = group / step.chunks;
  if (kvh >= HEADS / KV_GROUP) { return; }
  let qpos = step.pos0;
  var lo = c * step.chunk_len;
  if (WINDOW > 0u && qpos + 1u > WINDOW) { lo = max(lo, qpos + 1u - WINDOW); }
  let hi = min((c + 1u) * step.chunk_len, qpos + 1u);
  let kv_off = kvh * HEAD_DIM;
  if (APPEND && c == 0u && lid == 0u) { append_kv(0u, kv_off); }
  for (var e = lid; e < KV_GROUP * HEAD_DIM; e += TILE) { qs[e] = q[kvh * KV_GROUP * HEAD_DIM + e]; }
  if (lid < KV_GROUP) {
    run_max[lid] = NEG;
    run_sum[lid] = 0.0;
  }
  var acc: array<f32, KV_GROUP * DIMS>;
  workgroupBarrier();
  for (var t0 = lo; t0 < hi; t0 += TILE) {
    // Scores: invocation lid takes key t0 + lid for every query head of the group.
    let t = t0 + lid;
    for (var g = 0u; g < KV_GROUP; g++) {
      var s = NEG;
      if (t < hi) {
        s = 0.0;
        for (var d = 0u; d < HEAD_DIM; d++) { s += qs[g * HEAD_DIM + d] * kv_at(t, d, kv_off, false); }
        s *= SCALE;
      }
      ps[g * TILE + lid] = s;
    }
    workgroupBarrier();
    // Per query head: the tile's max joins the running max; corr rescales what came before.
    if (lid < KV_GROUP) {
      var mt = NEG;
      for (var i = 0u; i < TILE; i++) { mt = max(mt, ps[lid * TILE + i]); }
      let m_new = max(run_max[lid], mt);
      corr[lid] = exp(run_max[lid] - m_new);
      run_max[lid] = m_new;
    }
    workgroupBarrier();
    for (var g = 0u; g < KV_GROUP; g++) { ps[g * TILE + lid] = exp(ps[g * TILE + lid] - run_max[g]); }
    workgroupBarrier();
    if (lid < KV_GROUP) {
      var s = 0.0;
      for (var i = 0u; i < TILE; i++) { s += ps[lid * TILE + i]; }
      run_sum[lid] = run_sum[lid] * corr[lid] + s;
    }
    // Values: invocation lid owns head dimensions lid, lid + TILE, ...
    let n = min(TILE, hi - t0);
    for (var k = 0u; k < DIMS; k++) {
      let d = lid + k * TILE;
      if (d >= HEAD_DIM) { break; }
      for (var g = 0u; g < KV_GROUP; g++) { acc[g * DIMS + k] *= corr[g]; }
      for (var i = 0u; i < n; i++) {
        let v = kv_at(t0 + i, d, kv_off, true);
        for (var g = 0u; g < KV_GROUP; g++) { acc[g * DIMS + k] += ps[g * TILE + i] * v; }
      }
    }
    workgroupBarrier();
  }
  for (var g = 0u; g < KV_GROUP; g++) {
    let out = ((kvh * KV_GROUP + g) * step.chunks + c) * (HEAD_DIM + 2u);
    if (lid == 0u) {
      partial[out] = run_max[g];
      partial[out + 1u] = run_sum[g];
    }
    for (var k = 0u; k < DIMS; k++) {
      let d = lid + k * TILE;
      if (d < HEAD_DIM) { partial[out + 2u + d] = acc[g * DIMS + k]; }
    }
  }
}
