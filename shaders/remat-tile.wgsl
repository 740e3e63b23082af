// Prefix of the kernels that rebuild K or V from what a quantized mode stores (xquant-scores.wgsl in decode,
// xquant-remat.wgsl in prefill): a tile of TT tokens × TILE_COLS output columns (KV_PER_WG kv heads) as a
// tiled product over slices of DS elements of the rows. Each slice of the tile's rows is dequantized once
// into workgroup memory (row_src, defined by the kernel) for all columns of the block; each invocation
// accumulates one column for 4 tokens (register-blocked) into `tile`, f32 throughout. IDENTITY: the rows are
// the output itself (kivi). Call both functions from uniform control flow (they hold barriers).
// Constants: RW, RWP (row width and its 32-padding), DS, IDENTITY, HEAD_DIM, HALF, KV_PER_WG, TT (a multiple
// of 4), HAS_BIAS, plus the weights prefix's. Bindings: `bias`, `table`.

const TILE_COLS: u32 = KV_PER_WG * HEAD_DIM;

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
    for (var idx = lid; idx < quads * TILE_COLS; idx += WG) {
      let r = idx % TILE_COLS;
      let t0 = 4u * (idx / TILE_COLS);
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
        let a = (t0 + u) * TILE_COLS + r;
        if (t0 + u < n) { tile[a] = select(tile[a], 0.0, s0 == 0u) + s[u]; }
      }
    }
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
