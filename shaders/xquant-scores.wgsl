// Rematerializing decode attention, first half (xquant, xquant-cl, xquant-gqa and kivi modes): the scores
// of the step's query against every past token of a chunk, with K rebuilt from what the cache keeps.
// Workgroup (block of KV_PER_WG kv heads, chunk c) walks the chunk's past tokens in tiles of TT tokens:
//   1. K = rows · W[block]ᵀ + b_k by remat-tile.wgsl's product over slices of the K-side rows (k_src: X̂,
//      the latent X·U_k, or raw K), each slice dequantized once for all kv heads of the block; W = W_k
//      (xquant) or Σ_k B_kᵀ (xquant-gqa), any weight format. kivi's rows are K itself (IDENTITY);
//   2. Qwen3's k_norm per head (K_NORM), then RoPE at each token's absolute position;
//   3. scaled scores against the block's query heads, written to `partial[SCORES_BASE + t * HEADS + head]`
//      (-3e38 where a sliding window masks the token), with the chunk's running max and sum per head.
// Writes (max, sum) per (head, chunk) to the first two floats of the head's `partial` row; xquant-absorb.wgsl
// fills the rest (Σ p·row), so V is absorbed and never built. Tile sizes from src/webgpu/ops/xquant-tiling.ts,
// checked against the device's limit. Constants: VW (V-side width), HEADS, KV_HEADS, KV_GROUP, WINDOW,
// SCALE, SCORES_BASE, plus remat-tile.wgsl's and the store prefixes'.

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

var<workgroup> qs: array<f32, BLOCK_HEADS * HEAD_DIM>;
var<workgroup> ps: array<f32, TT * BLOCK_HEADS>;

fn row_src(t: u32, i: u32) -> f32 { return k_src(layer(), t, i); }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let index = wid.x + wid.y * nwg.x;
  let c = index % step.x_chunks;
  let gb = index / step.x_chunks;
  if (gb >= KV_HEADS / KV_PER_WG) { return; }
  let keys = chunk_keys(c, step.x_chunks, step.x_chunk_len, 0u, step.first_key, step.pos0, WINDOW); // newer keys: the standard attention
  let lo = keys.x;
  let hi = keys.y;
  let row0 = gb * TILE_COLS; // first K row (kv channel) of the block
  let head0 = gb * BLOCK_HEADS;
  for (var i = lid; i < BLOCK_HEADS * HEAD_DIM; i += WG) { qs[i] = q[head0 * HEAD_DIM + i]; }

  // Invocation j < BLOCK_HEADS keeps head j's running max and sum.
  var mx = -3.0e38;
  var sum = 0.0;
  for (var start = lo; start < hi; start += TT) {
    let n = min(TT, hi - start);
    rebuild_tile(lid, start, n, row0);
    if (K_NORM) { knorm_tile(lid, n); }
    rope_tile(lid, start, n);
    for (var idx = lid; idx < n * BLOCK_HEADS; idx += WG) {
      let j = idx % BLOCK_HEADS;
      let t = idx / BLOCK_HEADS;
      let qb = j * HEAD_DIM;
      let kb = t * TILE_COLS + (j / KV_GROUP) * HEAD_DIM;
      var s = 0.0;
      for (var d = 0u; d < HEAD_DIM; d++) { s += qs[qb + d] * tile[kb + d]; }
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
    workgroupBarrier(); // tile and ps are rewritten by the next tile
  }
  if (lid < BLOCK_HEADS) {
    let base = ((head0 + lid) * step.x_chunks + c) * (VW + 2u);
    partial[base] = mx;
    partial[base + 1u] = sum;
  }
}
