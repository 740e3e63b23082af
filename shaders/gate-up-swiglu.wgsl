// y = silu(W_gate x) * (W_up x) for the step's tokens: the MLP's two projections and SwiGLU in one dispatch
// (kernel family rowwise; the layout of linear.wgsl: one output row per invocation, TILE_M tokens in registers,
// each weight read feeding TILE_M products). The up matrix is read through the weights prefix renamed for it
// (w8_up, shader-library.ts); gate and up have the same shape and the same row parts.
// Constants: W_ROW_WORDS, W_SCALE_WORDS, IN_VEC4, X_STRIDE, Y_STRIDE, TILE_M.

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = flat_id(gid, nwg);
  let row = id % part.rows;
  let first = (id / part.rows) * TILE_M;
  let count = min(TILE_M, step.tokens - min(first, step.tokens));
  if (count == 0u) { return; }
  let x_stride4 = X_STRIDE / 4u;
  var g: array<f32, TILE_M>;
  var u: array<f32, TILE_M>;
  for (var j = 0u; j < IN_VEC4 / 2u; j++) {
    let wg = w8(row, j);
    let wu = w8_up(row, j);
    for (var t = 0u; t < TILE_M; t++) {
      // Rows past `count` read valid (unused) activation rows: buffers hold a whole tile.
      let xi = (first + t) * x_stride4 + 2u * j;
      let xa = x[xi];
      let xb = x[xi + 1u];
      g[t] += dot(wg.a, xa) + dot(wg.b, xb);
      u[t] += dot(wu.a, xa) + dot(wu.b, xb);
    }
  }
  for (var t = 0u; t < count; t++) {
    let a = g[t];
    y[(first + t) * Y_STRIDE + part.row_offset + row] = gate_act(a) * u[t];
  }
}
