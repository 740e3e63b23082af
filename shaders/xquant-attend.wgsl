// Fused rematerializing attention over the past tokens of one layer, split-K half (xquant, xquant-cl,
// xquant-gqa and kivi modes). Workgroup (m, kv head g, chunk c) walks the chunk's past tokens in tiles of
// TT tokens:
//   1. dequantize the tile's K-side rows (k_src: X̂, the latent X·U_k, or raw K) into workgroup memory,
//      and the V-side rows (v_src) unless they are the same rows (SAME_KV: xquant);
//   2. K = rows · W[g]ᵀ + b_k with W = W_k (xquant) or Σ_k B_kᵀ (xquant-gqa), in any weight format (w8
//      from the weights prefix); kivi's rows are K itself (IDENTITY_K);
//   3. RoPE at each token's absolute position;
//   4. scores against the KV_GROUP query heads of g;
//   5. online softmax, accumulating the probability-weighted sum of the V-side rows: V is absorbed and
//      applied once per head after the merge (xquant-values.wgsl).
// Past K and V never exist in GPU memory. Writes (max, sum, Σ p·row) per (m, head, chunk) to `partial`.
// Constants: LAYER, KW, KWP, VW, VWP (widths and their 32-padding), SAME_KV, IDENTITY_K, HEAD_DIM, HALF,
// HEADS, KV_HEADS, KV_GROUP, Q_STRIDE, TT, EPT (ceil(VWP / WG)), W_ROW_WORDS, W_SCALE_WORDS, HAS_BIAS,
// WINDOW, SCALE, plus the prefixes'.

@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> x_pages: array<u32>;
@group(0) @binding(3) var<storage, read> x_pool: array<u32>;
@group(0) @binding(4) var<storage, read> w: array<u32>;
@group(0) @binding(5) var<storage, read> ws: array<u32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;
@group(0) @binding(7) var<storage, read> table: array<vec2<f32>>;
@group(0) @binding(8) var<storage, read_write> partial: array<f32>;

var<workgroup> xs: array<f32, TT * KWP>;
var<workgroup> vs: array<f32, select(TT * VWP, 1u, SAME_KV)>;
var<workgroup> ks: array<f32, TT * HEAD_DIM>;
var<workgroup> ps: array<f32, KV_GROUP * TT>;

fn v_row(t: u32, i: u32) -> f32 {
  if (SAME_KV) { return xs[t * KWP + i]; }
  return vs[t * VWP + i];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let index = wid.x + wid.y * nwg.x;
  let c = index % step.x_chunks;
  let g = (index / step.x_chunks) % KV_HEADS;
  let m = index / (step.x_chunks * KV_HEADS);
  if (m >= step.tokens) { return; }
  let qpos = step.pos0 + m;
  var lo = c * step.x_chunk_len;
  if (WINDOW > 0u && qpos + 1u > WINDOW) { lo = max(lo, qpos + 1u - WINDOW); }
  let hi = min((c + 1u) * step.x_chunk_len, step.first_key); // newer keys: the standard attention

  var mx: array<f32, KV_GROUP>;
  var sum: array<f32, KV_GROUP>;
  var acc: array<f32, KV_GROUP * EPT>;
  for (var j = 0u; j < KV_GROUP; j++) { mx[j] = -3.0e38; }

  for (var start = lo; start < hi; start += TT) {
    let n = min(TT, hi - start);
    for (var idx = lid; idx < n * KWP; idx += WG) {
      let i = idx % KWP;
      xs[idx] = select(0.0, k_src(LAYER, start + idx / KWP, i), i < KW);
    }
    if (!SAME_KV) {
      for (var idx = lid; idx < n * VWP; idx += WG) {
        let i = idx % VWP;
        vs[idx] = select(0.0, v_src(LAYER, start + idx / VWP, i), i < VW);
      }
    }
    workgroupBarrier();
    for (var idx = lid; idx < n * HEAD_DIM; idx += WG) {
      let t = idx / HEAD_DIM;
      let row = g * HEAD_DIM + idx % HEAD_DIM;
      var s = 0.0;
      if (IDENTITY_K) {
        s = xs[t * KWP + row];
      } else {
        for (var j = 0u; j < KWP / 8u; j++) {
          let wv = w8(row, j);
          let b = t * KWP + 8u * j;
          s += dot(wv.a, vec4<f32>(xs[b], xs[b + 1u], xs[b + 2u], xs[b + 3u])) + dot(wv.b, vec4<f32>(xs[b + 4u], xs[b + 5u], xs[b + 6u], xs[b + 7u]));
        }
        if (HAS_BIAS) { s += bias[row]; }
      }
      ks[idx] = s;
    }
    workgroupBarrier();
    for (var idx = lid; idx < n * HALF; idx += WG) {
      let t = idx / HALF;
      let i = idx % HALF;
      let cs = table[(start + t) * HALF + i];
      let a = t * HEAD_DIM + i;
      let x0 = ks[a];
      let x1 = ks[a + HALF];
      ks[a] = x0 * cs.x - x1 * cs.y;
      ks[a + HALF] = x1 * cs.x + x0 * cs.y;
    }
    workgroupBarrier();
    for (var idx = lid; idx < KV_GROUP * n; idx += WG) {
      let j = idx / n;
      let t = idx % n;
      let qb = m * Q_STRIDE + (g * KV_GROUP + j) * HEAD_DIM;
      var s = 0.0;
      for (var d = 0u; d < HEAD_DIM; d++) { s += q[qb + d] * ks[t * HEAD_DIM + d]; }
      ps[j * TT + t] = s * SCALE;
    }
    workgroupBarrier();
    for (var j = 0u; j < KV_GROUP; j++) {
      var top = mx[j];
      for (var t = 0u; t < n; t++) { top = max(top, ps[j * TT + t]); }
      let corr = exp(mx[j] - top);
      sum[j] *= corr;
      for (var e = 0u; e < EPT; e++) { acc[j * EPT + e] *= corr; }
      for (var t = 0u; t < n; t++) {
        let p = exp(ps[j * TT + t] - top);
        sum[j] += p;
        for (var e = 0u; e < EPT; e++) {
          let i = lid + e * WG;
          if (i < VWP) { acc[j * EPT + e] += p * v_row(t, i); }
        }
      }
      mx[j] = top;
    }
    workgroupBarrier();
  }

  for (var j = 0u; j < KV_GROUP; j++) {
    let base = ((m * HEADS + g * KV_GROUP + j) * step.x_chunks + c) * (VW + 2u);
    if (lid == 0u) {
      partial[base] = mx[j];
      partial[base + 1u] = sum[j];
    }
    for (var e = 0u; e < EPT; e++) {
      let i = lid + e * WG;
      if (i < VW) { partial[base + 2u + i] = acc[j * EPT + e]; }
    }
  }
}
