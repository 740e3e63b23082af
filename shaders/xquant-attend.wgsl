// Fused rematerializing attention over the past tokens of one layer (xquant modes), split-K half.
// Workgroup (m, kv head g, chunk c) walks the chunk's past tokens in tiles of TT tokens:
//   1. dequantize the tile's X̂ rows (or read the residual window's f16 X) into workgroup memory;
//   2. K = X̂ W_k[g]ᵀ + b_k for the tile (w8 from the weights prefix: W_k in any weight format);
//   3. RoPE at each token's absolute position;
//   4. scores against the KV_GROUP query heads of g;
//   5. online softmax, accumulating the probability-weighted sum of X̂ (V is absorbed: V = X̂ W_vᵀ + b_v
//      is applied once per head after the merge, by xquant-values.wgsl).
// Past K and V never exist in GPU memory. Writes (max, sum, Σ p·X̂) per (m, head, chunk) to `partial`.
// Constants: LAYER, D, DP (D padded to 32), HEAD_DIM, HALF, HEADS, KV_HEADS, KV_GROUP, Q_STRIDE, TT, EPT
// (ceil(DP / WG)), W_ROW_WORDS, W_SCALE_WORDS, HAS_BIAS, WINDOW, SCALE, plus the prefixes'.

@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> x_pages: array<u32>;
@group(0) @binding(3) var<storage, read> x_pool: array<u32>;
@group(0) @binding(4) var<storage, read> w: array<u32>;
@group(0) @binding(5) var<storage, read> ws: array<u32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;
@group(0) @binding(7) var<storage, read> table: array<vec2<f32>>;
@group(0) @binding(8) var<storage, read_write> partial: array<f32>;

var<workgroup> xs: array<f32, TT * DP>;
var<workgroup> ks: array<f32, TT * HEAD_DIM>;
var<workgroup> ps: array<f32, KV_GROUP * TT>;

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
  let hi = min((c + 1u) * step.x_chunk_len, step.pos0);

  var mx: array<f32, KV_GROUP>;
  var sum: array<f32, KV_GROUP>;
  var acc: array<f32, KV_GROUP * EPT>;
  for (var j = 0u; j < KV_GROUP; j++) { mx[j] = -3.0e38; }

  for (var start = lo; start < hi; start += TT) {
    let n = min(TT, hi - start);
    for (var idx = lid; idx < n * DP; idx += WG) {
      let i = idx % DP;
      xs[idx] = select(0.0, x_past(LAYER, start + idx / DP, i), i < D);
    }
    workgroupBarrier();
    for (var idx = lid; idx < n * HEAD_DIM; idx += WG) {
      let t = idx / HEAD_DIM;
      let row = g * HEAD_DIM + idx % HEAD_DIM;
      var s = 0.0;
      for (var j = 0u; j < DP / 8u; j++) {
        let wv = w8(row, j);
        let b = t * DP + 8u * j;
        s += dot(wv.a, vec4<f32>(xs[b], xs[b + 1u], xs[b + 2u], xs[b + 3u])) + dot(wv.b, vec4<f32>(xs[b + 4u], xs[b + 5u], xs[b + 6u], xs[b + 7u]));
      }
      if (HAS_BIAS) { s += bias[row]; }
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
          if (i < DP) { acc[j * EPT + e] += p * xs[t * DP + i]; }
        }
      }
      mx[j] = top;
    }
    workgroupBarrier();
  }

  for (var j = 0u; j < KV_GROUP; j++) {
    let base = ((m * HEADS + g * KV_GROUP + j) * step.x_chunks + c) * (D + 2u);
    if (lid == 0u) {
      partial[base] = mx[j];
      partial[base + 1u] = sum[j];
    }
    for (var e = 0u; e < EPT; e++) {
      let i = lid + e * WG;
      if (i < D) { partial[base + 2u + i] = acc[j * EPT + e]; }
    }
  }
}
