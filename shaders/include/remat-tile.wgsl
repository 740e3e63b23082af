// Prefix of the kernels that rebuild K or V from what a quantized mode stores (xquant-scores.wgsl in decode,
// xquant-remat.wgsl in prefill): a tile of TT tokens × TILE_COLS output columns (KV_PER_WG kv heads) as a
// tiled product over slices of DS elements of the rows. Each slice of the tile's rows is dequantized once
// into workgroup memory (row_src, defined by the kernel) for all columns of the block; each invocation
// accumulates COL_BLOCK columns for 4 tokens (register-blocked) into `tile`, f32 throughout. COL_BLOCK 1 (rowwise
// family) reads 8 workgroup floats per 8 multiply-adds; 4 (tiled family) reuses them for 4 columns, a quarter of
// the workgroup-memory traffic per multiply-add, which is what bounds this product on a GPU. Each output's
// sum runs in the same order either way. IDENTITY: the rows are the output itself (kivi). Call both
// functions from uniform control flow (they hold barriers).
// Constants: RW, RWP (row width and its 32-padding), DS, IDENTITY, HEAD_DIM, HALF, KV_PER_WG, TT (a multiple
// of 4), COL_BLOCK (dividing KV_PER_WG x HEAD_DIM), HAS_BIAS, K_NORM and K_NORM_EPS (the k_norm's weights are then in
// `bias`), plus the weights prefix's. Bindings: `bias`, `table`.

const TILE_COLS: u32 = KV_PER_WG * HEAD_DIM;
const COL_GROUPS: u32 = TILE_COLS / COL_BLOCK;

var<workgroup> xs: array<f32, select(TT * DS, 1u, IDENTITY)>;
var<workgroup> tile: array<f32, TT * TILE_COLS>;

fn xs4(t: u32, b: u32) -> vec4<f32> {
  let o = t * DS + b;
  return vec4<f32>(xs[o], xs[o + 1u], xs[o + 2u], xs[o + 3u]);
}

/** tile[t * TILE_COLS + r] = row(start + t) · W[col0 + r] (+ bias) for t < n. */
fn rebuild_tile(lid: u32, start: u32, n: u32, col0: u32) {
  if (IDENTITY) {
    for (var idx = lid; idx < n * TILE_COLS; idx += WG) { tile[idx] = row_src(start + idx / TILE_COLS, col0 + idx % TILE_COLS); }
    workgroupBarrier();
    return;
  }
  let quads = (n + 3u) / 4u;
  for (var s0 = 0u; s0 < RWP; s0 += DS) {
    workgroupBarrier(); // the previous slice's products are done with xs
    for (var idx = lid; idx < TT * DS; idx += WG) {
      let i = s0 + idx % DS;
      let t = idx / DS;
      // Rows past n and columns past RW are zeros, so the 4-token product below may read them.
      xs[idx] = select(0.0, row_src(start + t, i), i < RW && t < n);
    }
    workgroupBarrier();
    let words = min(DS, RWP - s0) / 8u;
    for (var idx = lid; idx < quads * COL_GROUPS; idx += WG) {
      let r0 = (idx % COL_GROUPS) * COL_BLOCK;
      let t0 = 4u * (idx / COL_GROUPS);
      var s: array<vec4<f32>, COL_BLOCK>;
      for (var c = 0u; c < COL_BLOCK; c++) { s[c] = vec4<f32>(0.0); } // explicitly: dawn.node's SwiftShader keeps a loop-local array's last values
      for (var j = 0u; j < words; j++) {
        let b = 8u * j;
        let lo = array(xs4(t0, b), xs4(t0 + 1u, b), xs4(t0 + 2u, b), xs4(t0 + 3u, b));
        let hi = array(xs4(t0, b + 4u), xs4(t0 + 1u, b + 4u), xs4(t0 + 2u, b + 4u), xs4(t0 + 3u, b + 4u));
        for (var c = 0u; c < COL_BLOCK; c++) {
          let wv = w8(col0 + r0 + c, s0 / 8u + j);
          s[c] += vec4<f32>(
            dot(wv.a, lo[0]) + dot(wv.b, hi[0]),
            dot(wv.a, lo[1]) + dot(wv.b, hi[1]),
            dot(wv.a, lo[2]) + dot(wv.b, hi[2]),
            dot(wv.a, lo[3]) + dot(wv.b, hi[3]),
          );
        }
      }
      for (var c = 0u; c < COL_BLOCK; c++) {
        if (s0 == 0u && HAS_BIAS) { s[c] += vec4<f32>(bias[col0 + r0 + c]); }
        for (var u = 0u; u < 4u; u++) {
          let a = (t0 + u) * TILE_COLS + r0 + c;
          if (t0 + u < n) { tile[a] = select(tile[a], 0.0, s0 == 0u) + s[c][u]; }
        }
      }
    }
  }
  workgroupBarrier();
}

/** Qwen3's k_norm on the tile's heads, before RoPE: each head's values over their root mean square, times the weights in `bias`. */
fn knorm_tile(lid: u32, n: u32) {
  for (var idx = lid; idx < n * KV_PER_WG; idx += WG) {
    let a = (idx / KV_PER_WG) * TILE_COLS + (idx % KV_PER_WG) * HEAD_DIM;
    var s = 0.0;
    for (var d = 0u; d < HEAD_DIM; d++) { s += tile[a + d] * tile[a + d]; }
    let inv = inverseSqrt(s / f32(HEAD_DIM) + K_NORM_EPS);
    for (var d = 0u; d < HEAD_DIM; d++) { tile[a + d] = tile[a + d] * inv * bias[d]; }
  }
  workgroupBarrier();
}

/** RoPE (rotate-half) on the tile's heads at the tokens' absolute positions start + t. */
fn rope_tile(lid: u32, start: u32, n: u32) {
  for (var idx = lid; idx < n * KV_PER_WG * HALF; idx += WG) {
    let i = idx % HALF;
    let g = (idx / HALF) % KV_PER_WG;
    let t = idx / (HALF * KV_PER_WG);
    let cs = table[(start + t) * HALF + i];
    let a = t * TILE_COLS + g * HEAD_DIM + i;
    let x0 = tile[a];
    let x1 = tile[a + HALF];
    tile[a] = x0 * cs.x - x1 * cs.y;
    tile[a + HALF] = x1 * cs.x + x0 * cs.y;
  }
  workgroupBarrier();
}
