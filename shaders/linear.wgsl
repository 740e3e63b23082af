// y = W x (+ bias) (+ y when ACCUMULATE, which fuses the residual add) for the step's tokens, with W a
// packed weight matrix (w8 from the weights-*.wgsl prefix: dequantization fused into the product).
// Large matrices come in row parts (one binding each stays under the binding-size limit); `part` says
// which rows this dispatch covers.
//
// One output row per invocation, TILE_M tokens at a time: every weight read feeds TILE_M products.
// TILE_M = 1 is the decode GEMV, TILE_M = 4 the prefill GEMM. On CPU backends this register-blocked
// shape beats shared-memory reductions several times over (docs: webgpu-on-cpu.md §5).
// With LAST_ONLY only the last token is computed, into y's row 0 (the LM head of a decode or prefill).
// Constants: W_ROW_WORDS, W_SCALE_WORDS, IN_VEC4 (padded input width / 4), X_STRIDE, Y_STRIDE, TILE_M,
// HAS_BIAS, ACCUMULATE, LAST_ONLY.

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = flat_id(gid, nwg);
  let row = id % part.rows;
  let tile = id / part.rows;
  var first = tile * TILE_M;
  var count = min(TILE_M, step.tokens - min(first, step.tokens));
  var out_row0 = first;
  if (LAST_ONLY) {
    first = step.tokens - 1u;
    count = select(0u, 1u, tile == 0u);
    out_row0 = 0u;
  }
  if (count == 0u) { return; }
  let x_stride4 = X_STRIDE / 4u;
  var acc: array<f32, TILE_M>;
  for (var j = 0u; j < IN_VEC4 / 2u; j++) {
    let wv = w8(row, j);
    for (var t = 0u; t < TILE_M; t++) {
      // Rows past `count` read valid (unused) activation rows: buffers hold a whole tile.
      let xi = (first + t) * x_stride4 + 2u * j;
      acc[t] += dot(wv.a, x[xi]) + dot(wv.b, x[xi + 1u]);
    }
  }
  let out_col = part.row_offset + row;
  for (var t = 0u; t < count; t++) {
    var v = acc[t];
    if (HAS_BIAS) { v += bias[out_col]; }
    let yi = (out_row0 + t) * Y_STRIDE + out_col;
    if (ACCUMULATE) { v += y[yi]; }
    y[yi] = v;
  }
}
