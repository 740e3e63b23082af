// Prefill in the quantized modes: rebuild K (after RoPE) or V of the past tokens from step.remat_from to
// step.first_key once per prompt slice (older rows are there from an earlier slice), into a transient buffer that the slice's queries then attend to
// as in fp16 prefill (attention-split.wgsl with the transient rows as its pool). Without it each query
// tile would rebuild the whole past again.
// Workgroup (tile of TT tokens, block of KV_PER_WG kv heads): remat-tile.wgsl's product over the rows
// (SIDE_K: k_src, else v_src) and W, then k_norm (SIDE_K and K_NORM) and RoPE (SIDE_K), then the tile is written as f32 rows of KV_DIM
// (or f16 pairs, OUT_F16). Constants: SIDE_K, KV_DIM, KV_HEADS, OUT_F16, WINDOW, plus remat-tile.wgsl's and the
// store prefixes'. Tile sizes from src/webgpu/ops/xquant-tiling.ts.

@group(0) @binding(1) var<storage, read> x_pages: array<u32>;
@group(0) @binding(2) var<storage, read> x_pool: array<u32>;
@group(0) @binding(3) var<storage, read> w: array<u32>;
@group(0) @binding(4) var<storage, read> ws: array<u32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read> table: array<vec2<f32>>;
@group(0) @binding(7) var<storage, read_write> out: array<u32>;
@group(0) @binding(8) var<uniform> layer_params: LayerParams;
fn layer() -> u32 { return layer_params.index; }

fn row_src(t: u32, i: u32) -> f32 {
  if (SIDE_K) { return k_src(layer(), t, i); }
  return v_src(layer(), t, i);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let index = wid.x + wid.y * nwg.x;
  let blocks = KV_HEADS / KV_PER_WG;
  let gb = index % blocks;
  // A sliding layer's queries read nothing before the first one's window (a ring no longer holds those rows).
  var first = step.remat_from;
  if (WINDOW > 0u && step.pos0 + 1u > WINDOW) { first = max(first, step.pos0 + 1u - WINDOW); }
  let start = first + TT * (index / blocks);
  if (start >= step.first_key) { return; }
  let n = min(TT, step.first_key - start);
  let col0 = gb * TILE_COLS;
  rebuild_tile(lid, start, n, col0);
  if (SIDE_K && K_NORM) { knorm_tile(lid, n); }
  if (SIDE_K) { rope_tile(lid, start, n); }
  if (OUT_F16) {
    for (var idx = lid; idx < n * TILE_COLS / 2u; idx += WG) {
      let t = idx / (TILE_COLS / 2u);
      let r = 2u * (idx % (TILE_COLS / 2u));
      out[((start + t) * KV_DIM + col0 + r) / 2u] = pack_f16(tile[t * TILE_COLS + r], tile[t * TILE_COLS + r + 1u]);
    }
  } else {
    for (var idx = lid; idx < n * TILE_COLS; idx += WG) {
      out[(start + idx / TILE_COLS) * KV_DIM + col0 + idx % TILE_COLS] = bitcast<u32>(tile[idx]);
    }
  }
}
