// Decode attention over the past tokens in one fused kernel, for the xquant and xquant-cl modes at widths
// where a whole tile of X̂ rows fits in workgroup memory (chosen in src/webgpu/ops/xquant-tiling.ts; wider
// models use xquant-scores + xquant-absorb, which slice d). Rows are dequantized once for both K and V,
// which matters most for XQuant-CL, whose X̂ sums one dequantized row per delta layer.
// Workgroup (m, block of KV_PER_WG kv heads, chunk c) walks the chunk's past tokens in tiles of TT tokens:
//   1. dequantize the tile's rows of X̂ into workgroup memory (SAME_KV: they are both the K and the V side);
//   2. K = X̂ · W_k[block]ᵀ + b_k (w8 from the weights prefix), each invocation one K row for 4 tokens;
//   3. RoPE at each token's absolute position;
//   4. scores against the query heads of the block;
//   5. online softmax, accumulating the probability-weighted sum of the rows: V is absorbed and applied
//      once per head after the merge (xquant-values.wgsl).
// Writes (max, sum, Σ p·row) per (m, head, chunk) to `partial`. Constants: KW, KWP, VW, VWP (widths and
// their 32-padding), SAME_KV, IDENTITY_K, HEAD_DIM, HALF, HEADS, KV_HEADS, KV_GROUP, KV_PER_WG, QT (1 in
// decode), Q_STRIDE, TT (a multiple of 4), EPT (ceil(VWP / WG)), W_ROW_WORDS, W_SCALE_WORDS, HAS_BIAS,
// WINDOW, SCALE, plus the prefixes'.

@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> x_pages: array<u32>;
@group(0) @binding(3) var<storage, read> x_pool: array<u32>;
@group(0) @binding(4) var<storage, read> w: array<u32>;
@group(0) @binding(5) var<storage, read> ws: array<u32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;
@group(0) @binding(7) var<storage, read> table: array<vec2<f32>>;
@group(0) @binding(8) var<storage, read_write> partial: array<f32>;
@group(0) @binding(9) var<uniform> layer_params: LayerParams;
// The layer is a uniform, not a constant, so one pipeline serves every layer.
fn layer() -> u32 { return layer_params.index; }

const BLOCK_HEADS: u32 = KV_PER_WG * KV_GROUP;
const BLOCK_ROWS: u32 = KV_PER_WG * HEAD_DIM;

var<workgroup> xs: array<f32, TT * KWP>;
var<workgroup> vs: array<f32, select(TT * VWP, 1u, SAME_KV)>;
var<workgroup> ks: array<f32, TT * BLOCK_ROWS>;
var<workgroup> ps: array<f32, QT * BLOCK_HEADS * TT>;

fn v_row(t: u32, i: u32) -> f32 {
  if (SAME_KV) { return xs[t * KWP + i]; }
  return vs[t * VWP + i];
}

fn xs4(t: u32, b: u32) -> vec4<f32> {
  let o = t * KWP + b;
  return vec4<f32>(xs[o], xs[o + 1u], xs[o + 2u], xs[o + 3u]);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let index = wid.x + wid.y * nwg.x;
  let blocks = KV_HEADS / KV_PER_WG;
  let c = index % step.x_chunks;
  let gb = (index / step.x_chunks) % blocks;
  let m0 = QT * (index / (step.x_chunks * blocks));
  if (m0 >= step.tokens) { return; }
  let queries = min(QT, step.tokens - m0);
  // Past keys of this chunk; a sliding window trims each query's own range further (masked below).
  let keys = chunk_keys(c, step.x_chunks, step.x_chunk_len, 0u, step.first_key, step.pos0 + m0, WINDOW); // newer keys: the standard attention
  let lo = keys.x;
  let hi = keys.y;
  let row0 = gb * BLOCK_ROWS; // first K row (kv channel) of the block
  let head0 = gb * BLOCK_HEADS;

  // Per (query, head) of the block: running max, sum and Σ p·row (this invocation's EPT elements).
  var mx: array<f32, QT * BLOCK_HEADS>;
  var sum: array<f32, QT * BLOCK_HEADS>;
  var acc: array<f32, QT * BLOCK_HEADS * EPT>;
  for (var j = 0u; j < QT * BLOCK_HEADS; j++) { mx[j] = -3.0e38; }

  for (var start = lo; start < hi; start += TT) {
    let n = min(TT, hi - start);
    for (var idx = lid; idx < TT * KWP; idx += WG) {
      let i = idx % KWP;
      let t = idx / KWP;
      // Rows past n are zeroed so the 4-token GEMM below may read them.
      xs[idx] = select(0.0, k_src(layer(), start + t, i), i < KW && t < n);
    }
    if (!SAME_KV) {
      for (var idx = lid; idx < n * VWP; idx += WG) {
        let i = idx % VWP;
        vs[idx] = select(0.0, v_src(layer(), start + idx / VWP, i), i < VW);
      }
    }
    workgroupBarrier();
    let quads = (n + 3u) / 4u;
    for (var idx = lid; idx < quads * BLOCK_ROWS; idx += WG) {
      let r = idx % BLOCK_ROWS;
      let t0 = 4u * (idx / BLOCK_ROWS);
      let row = row0 + r;
      var s = vec4<f32>(0.0);
      if (IDENTITY_K) {
        s = vec4<f32>(xs[t0 * KWP + row], xs[(t0 + 1u) * KWP + row], xs[(t0 + 2u) * KWP + row], xs[(t0 + 3u) * KWP + row]);
      } else {
        for (var j = 0u; j < KWP / 8u; j++) {
          let wv = w8(row, j);
          let b = 8u * j;
          s += vec4<f32>(
            dot(wv.a, xs4(t0, b)) + dot(wv.b, xs4(t0, b + 4u)),
            dot(wv.a, xs4(t0 + 1u, b)) + dot(wv.b, xs4(t0 + 1u, b + 4u)),
            dot(wv.a, xs4(t0 + 2u, b)) + dot(wv.b, xs4(t0 + 2u, b + 4u)),
            dot(wv.a, xs4(t0 + 3u, b)) + dot(wv.b, xs4(t0 + 3u, b + 4u)),
          );
        }
        if (HAS_BIAS) { s += vec4<f32>(bias[row]); }
      }
      for (var u = 0u; u < 4u; u++) {
        if (t0 + u < n) { ks[(t0 + u) * BLOCK_ROWS + r] = s[u]; }
      }
    }
    workgroupBarrier();
    for (var idx = lid; idx < n * KV_PER_WG * HALF; idx += WG) {
      let i = idx % HALF;
      let g = (idx / HALF) % KV_PER_WG;
      let t = idx / (HALF * KV_PER_WG);
      let cs = table[(start + t) * HALF + i];
      let a = t * BLOCK_ROWS + g * HEAD_DIM + i;
      let x0 = ks[a];
      let x1 = ks[a + HALF];
      ks[a] = x0 * cs.x - x1 * cs.y;
      ks[a + HALF] = x1 * cs.x + x0 * cs.y;
    }
    workgroupBarrier();
    for (var idx = lid; idx < queries * BLOCK_HEADS * n; idx += WG) {
      let t = idx % n;
      let j = (idx / n) % BLOCK_HEADS;
      let qi = idx / (n * BLOCK_HEADS);
      let qb = (m0 + qi) * Q_STRIDE + (head0 + j) * HEAD_DIM;
      let kb = t * BLOCK_ROWS + (j / KV_GROUP) * HEAD_DIM;
      var s = 0.0;
      for (var d = 0u; d < HEAD_DIM; d++) { s += q[qb + d] * ks[kb + d]; }
      let qpos = step.pos0 + m0 + qi;
      let outside = WINDOW > 0u && start + t + WINDOW < qpos + 1u;
      ps[(qi * BLOCK_HEADS + j) * TT + t] = select(s * SCALE, -3.0e38, outside);
    }
    workgroupBarrier();
    for (var j = 0u; j < queries * BLOCK_HEADS; j++) {
      var top = mx[j];
      for (var t = 0u; t < n; t++) { top = max(top, ps[j * TT + t]); }
      let corr = exp(mx[j] - top);
      sum[j] *= corr;
      for (var e = 0u; e < EPT; e++) { acc[j * EPT + e] *= corr; }
      for (var t = 0u; t < n; t++) {
        let score = ps[j * TT + t];
        let p = select(exp(score - top), 0.0, score <= -1.0e38); // masked by the sliding window
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

  for (var j = 0u; j < queries * BLOCK_HEADS; j++) {
    let m = m0 + j / BLOCK_HEADS;
    let base = ((m * HEADS + head0 + j % BLOCK_HEADS) * step.x_chunks + c) * (VW + 2u);
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
