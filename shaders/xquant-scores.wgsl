// Rematerializing decode attention, first half (xquant, xquant-cl, xquant-gqa and kivi modes): the scores
// of the step's query against every past token of a chunk, with K rebuilt from what the cache keeps.
// Workgroup (block of KV_PER_WG kv heads, chunk c) walks the chunk's past tokens in tiles of TT tokens:
//   1. K = rows · W[block]ᵀ + b_k as a tiled product over slices of DS elements of the K-side rows
//      (k_src: X̂, the latent X·U_k, or raw K): a slice of the tile's rows is dequantized once into
//      workgroup memory for all kv heads of the block, each invocation accumulates one K row for 4 tokens
//      (register-blocked) in `ks`; W = W_k (xquant) or Σ_k B_kᵀ (xquant-gqa), any weight format (w8 from
//      the weights prefix). kivi's rows are K itself (IDENTITY_K): no product;
//   2. RoPE at each token's absolute position;
//   3. scaled scores against the block's query heads, written to `partial[SCORES_BASE + t * HEADS + head]` (-3e38 where a
//      sliding window masks the token), with the chunk's running max and sum per head.
// Writes (max, sum) per (head, chunk) to the first two floats of the head's `partial` row; xquant-absorb.wgsl
// fills the rest (Σ p·row), so V is absorbed and never built. Workgroup memory by construction: TT, DS and
// KV_PER_WG come from src/gpu/ops/xquant-tiling.ts, which checks them against the device's limit.
// Constants: KW, KWP (K-side width and its 32-padding), VW (V-side width), DS, IDENTITY_K, HEAD_DIM, HALF,
// HEADS, KV_HEADS, KV_GROUP, KV_PER_WG, TT (a multiple of 4), W_ROW_WORDS, W_SCALE_WORDS, HAS_BIAS, WINDOW,
// SCALE, SCORES_BASE, plus the prefixes'.

@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> x_pages: array<u32>;
@group(0) @binding(3) var<storage, read> x_pool: array<u32>;
@group(0) @binding(4) var<storage, read> w: array<u32>;
@group(0) @binding(5) var<storage, read> ws: array<u32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;
@group(0) @binding(7) var<storage, read> table: array<vec2<f32>>;
@group(0) @binding(8) var<storage, read_write> partial: array<f32>;
@group(0) @binding(9) var<uniform> layer_params: LayerParams;
fn layer() -> u32 { return layer_params.index; }

const BLOCK_HEADS: u32 = KV_PER_WG * KV_GROUP;
const BLOCK_ROWS: u32 = KV_PER_WG * HEAD_DIM;

var<workgroup> xs: array<f32, select(TT * DS, 1u, IDENTITY_K)>;
var<workgroup> ks: array<f32, TT * BLOCK_ROWS>;
var<workgroup> qs: array<f32, BLOCK_HEADS * HEAD_DIM>;
var<workgroup> ps: array<f32, TT * BLOCK_HEADS>;

fn xs4(t: u32, b: u32) -> vec4<f32> {
  let o = t * DS + b;
  return vec4<f32>(xs[o], xs[o + 1u], xs[o + 2u], xs[o + 3u]);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let index = wid.x + wid.y * nwg.x;
  let c = index % step.x_chunks;
  let gb = index / step.x_chunks;
  if (gb >= KV_HEADS / KV_PER_WG) { return; }
  var lo = c * step.x_chunk_len;
  if (WINDOW > 0u && step.pos0 + 1u > WINDOW) { lo = max(lo, step.pos0 + 1u - WINDOW); }
  let hi = min((c + 1u) * step.x_chunk_len, step.first_key); // newer keys: the standard attention
  let row0 = gb * BLOCK_ROWS; // first K row (kv channel) of the block
  let head0 = gb * BLOCK_HEADS;
  for (var i = lid; i < BLOCK_HEADS * HEAD_DIM; i += WG) { qs[i] = q[head0 * HEAD_DIM + i]; }

  // Invocation j < BLOCK_HEADS keeps head j's running max and sum.
  var mx = -3.0e38;
  var sum = 0.0;
  for (var start = lo; start < hi; start += TT) {
    let n = min(TT, hi - start);
    let quads = (n + 3u) / 4u;
    if (IDENTITY_K) {
      for (var idx = lid; idx < n * BLOCK_ROWS; idx += WG) {
        ks[idx] = k_src(layer(), start + idx / BLOCK_ROWS, row0 + idx % BLOCK_ROWS);
      }
    } else {
      for (var s0 = 0u; s0 < KWP; s0 += DS) {
        workgroupBarrier(); // the previous slice's products are done with xs
        for (var idx = lid; idx < TT * DS; idx += WG) {
          let i = s0 + idx % DS;
          let t = idx / DS;
          // Rows past n and columns past KW are zeros, so the 4-token product below may read them.
          xs[idx] = select(0.0, k_src(layer(), start + t, i), i < KW && t < n);
        }
        workgroupBarrier();
        let words = min(DS, KWP - s0) / 8u;
        for (var idx = lid; idx < quads * BLOCK_ROWS; idx += WG) {
          let r = idx % BLOCK_ROWS;
          let t0 = 4u * (idx / BLOCK_ROWS);
          let row = row0 + r;
          var s = vec4<f32>(0.0);
          for (var j = 0u; j < words; j++) {
            let wv = w8(row, s0 / 8u + j);
            let b = 8u * j;
            s += vec4<f32>(
              dot(wv.a, xs4(t0, b)) + dot(wv.b, xs4(t0, b + 4u)),
              dot(wv.a, xs4(t0 + 1u, b)) + dot(wv.b, xs4(t0 + 1u, b + 4u)),
              dot(wv.a, xs4(t0 + 2u, b)) + dot(wv.b, xs4(t0 + 2u, b + 4u)),
              dot(wv.a, xs4(t0 + 3u, b)) + dot(wv.b, xs4(t0 + 3u, b + 4u)),
            );
          }
          if (s0 == 0u && HAS_BIAS) { s += vec4<f32>(bias[row]); }
          for (var u = 0u; u < 4u; u++) {
            let a = (t0 + u) * BLOCK_ROWS + r;
            if (t0 + u < n) { ks[a] = select(ks[a], 0.0, s0 == 0u) + s[u]; }
          }
        }
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
    for (var idx = lid; idx < n * BLOCK_HEADS; idx += WG) {
      let j = idx % BLOCK_HEADS;
      let t = idx / BLOCK_HEADS;
      let qb = j * HEAD_DIM;
      let kb = t * BLOCK_ROWS + (j / KV_GROUP) * HEAD_DIM;
      var s = 0.0;
      for (var d = 0u; d < HEAD_DIM; d++) { s += qs[qb + d] * ks[kb + d]; }
      let outside = WINDOW > 0u && start + t + WINDOW < step.pos0 + 1u;
      let score = select(s * SCALE, -3.0e38, outside);
      ps[idx] = score;
      partial[SCORES_BASE + (start + t) * HEADS + head0 + j] = score;
    }
    workgroupBarrier();
    if (lid < BLOCK_HEADS) {
      var top = mx;
      for (var t = 0u; t < n; t++) { top = max(top, ps[t * BLOCK_HEADS + lid]); }
      sum *= exp(mx - top);
      for (var t = 0u; t < n; t++) {
        let score = ps[t * BLOCK_HEADS + lid];
        sum += select(exp(score - top), 0.0, score <= -1.0e38);
      }
      mx = top;
    }
    workgroupBarrier(); // ks and ps are rewritten by the next tile
  }
  if (lid < BLOCK_HEADS) {
    let base = ((head0 + lid) * step.x_chunks + c) * (VW + 2u);
    partial[base] = mx;
    partial[base + 1u] = sum;
  }
}
