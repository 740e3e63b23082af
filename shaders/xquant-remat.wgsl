// Prefill in the quantized modes: rebuild K (after RoPE) or V of every past token older than
// step.first_key once per prompt slice, into a transient buffer that the slice's queries then attend to
// as in fp16 prefill (attention-split.wgsl with the transient as its pool). Without it each query tile
// would rebuild the whole past again.
// Workgroup (tile of TT tokens, block of KV_PER_WG kv heads): a tiled product over slices of DS elements
// of the rows (SIDE_K: k_src, else v_src): each slice of the tile's rows is dequantized once into
// workgroup memory for the block, and each invocation accumulates one output column for 4 tokens in
// `os`; then bias, RoPE (SIDE_K), and the tile is written as f32 rows of KV_DIM (or f16 pairs, OUT_F16).
// IDENTITY (kivi): the rows are K or V themselves. Constants: RW, RWP (row width and its 32-padding), DS,
// SIDE_K, IDENTITY, HEAD_DIM, HALF, KV_DIM, KV_HEADS, KV_PER_WG, TT (a multiple of 4), W_ROW_WORDS, W_SCALE_WORDS,
// HAS_BIAS, OUT_F16, plus the prefixes'. Sizes from src/gpu/ops/xquant-tiling.ts.

@group(0) @binding(1) var<storage, read> x_pages: array<u32>;
@group(0) @binding(2) var<storage, read> x_pool: array<u32>;
@group(0) @binding(3) var<storage, read> w: array<u32>;
@group(0) @binding(4) var<storage, read> ws: array<u32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read> table: array<vec2<f32>>;
@group(0) @binding(7) var<storage, read_write> out: array<u32>;
@group(0) @binding(8) var<uniform> layer_params: LayerParams;
fn layer() -> u32 { return layer_params.index; }

const COLS: u32 = KV_PER_WG * HEAD_DIM;

var<workgroup> xs: array<f32, select(TT * DS, 1u, IDENTITY)>;
var<workgroup> os: array<f32, TT * COLS>;

fn row_src(t: u32, i: u32) -> f32 {
  if (SIDE_K) { return k_src(layer(), t, i); }
  return v_src(layer(), t, i);
}

fn xs4(t: u32, b: u32) -> vec4<f32> {
  let o = t * DS + b;
  return vec4<f32>(xs[o], xs[o + 1u], xs[o + 2u], xs[o + 3u]);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let index = wid.x + wid.y * nwg.x;
  let blocks = KV_HEADS / KV_PER_WG;
  let gb = index % blocks;
  let start = TT * (index / blocks);
  if (start >= step.first_key) { return; }
  let n = min(TT, step.first_key - start);
  let quads = (n + 3u) / 4u;
  let col0 = gb * COLS;
  if (IDENTITY) {
    for (var idx = lid; idx < n * COLS; idx += WG) { os[idx] = row_src(start + idx / COLS, col0 + idx % COLS); }
  } else {
    for (var s0 = 0u; s0 < RWP; s0 += DS) {
      workgroupBarrier();
      for (var idx = lid; idx < TT * DS; idx += WG) {
        let i = s0 + idx % DS;
        let t = idx / DS;
        xs[idx] = select(0.0, row_src(start + t, i), i < RW && t < n);
      }
      workgroupBarrier();
      let words = min(DS, RWP - s0) / 8u;
      for (var idx = lid; idx < quads * COLS; idx += WG) {
        let r = idx % COLS;
        let t0 = 4u * (idx / COLS);
        let col = col0 + r;
        var s = vec4<f32>(0.0);
        for (var j = 0u; j < words; j++) {
          let wv = w8(col, s0 / 8u + j);
          let b = 8u * j;
          s += vec4<f32>(
            dot(wv.a, xs4(t0, b)) + dot(wv.b, xs4(t0, b + 4u)),
            dot(wv.a, xs4(t0 + 1u, b)) + dot(wv.b, xs4(t0 + 1u, b + 4u)),
            dot(wv.a, xs4(t0 + 2u, b)) + dot(wv.b, xs4(t0 + 2u, b + 4u)),
            dot(wv.a, xs4(t0 + 3u, b)) + dot(wv.b, xs4(t0 + 3u, b + 4u)),
          );
        }
        if (s0 == 0u && HAS_BIAS) { s += vec4<f32>(bias[col]); }
        for (var u = 0u; u < 4u; u++) {
          let a = (t0 + u) * COLS + r;
          if (t0 + u < n) { os[a] = select(os[a], 0.0, s0 == 0u) + s[u]; }
        }
      }
    }
  }
  workgroupBarrier();
  if (SIDE_K) {
    for (var idx = lid; idx < n * KV_PER_WG * HALF; idx += WG) {
      let i = idx % HALF;
      let g = (idx / HALF) % KV_PER_WG;
      let t = idx / (HALF * KV_PER_WG);
      let cs = table[(start + t) * HALF + i];
      let a = t * COLS + g * HEAD_DIM + i;
      let x0 = os[a];
      let x1 = os[a + HALF];
      os[a] = x0 * cs.x - x1 * cs.y;
      os[a + HALF] = x1 * cs.x + x0 * cs.y;
    }
    workgroupBarrier();
  }
  if (OUT_F16) {
    for (var idx = lid; idx < n * COLS / 2u; idx += WG) {
      let t = idx / (COLS / 2u);
      let r = 2u * (idx % (COLS / 2u));
      out[((start + t) * KV_DIM + col0 + r) / 2u] = pack_f16(os[t * COLS + r], os[t * COLS + r + 1u]);
    }
  } else {
    for (var idx = lid; idx < n * COLS; idx += WG) {
      let t = idx / COLS;
      out[(start + t) * KV_DIM + col0 + idx % COLS] = bitcast<u32>(os[idx]);
    }
  }
}
