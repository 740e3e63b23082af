// y = silu(W_gate x) * (W_up x), one token per workgroup row group: the MLP's two projections and SwiGLU in
// one dispatch, shaped for real GPUs (kernel class gpu; the layout of linear-gemv-gpu.wgsl: a workgroup of
// GEMV_WG invocations per ROWS rows, adjacent invocations reading adjacent weight words, the activation
// chunk loaded once for both matrices, a tree reduction in workgroup memory). The up matrix is read
// through the weights prefix renamed for it (w8_up). Constants: W_ROW_WORDS, W_SCALE_WORDS, IN_VEC4,
// X_STRIDE, Y_STRIDE, ROWS, GEMV_WG (a power of two).

// Gate sums in the first ROWS * GEMV_WG entries, up sums in the rest.
var<workgroup> sums: array<f32, 2u * ROWS * GEMV_WG>;

@compute @workgroup_size(GEMV_WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = wid.x + wid.y * nwg.x;
  let row_groups = (part.rows + ROWS - 1u) / ROWS;
  let row0 = (group % row_groups) * ROWS;
  let token = group / row_groups;
  if (token >= step.tokens) { return; }
  let xbase = token * (X_STRIDE / 4u);
  var g: array<f32, ROWS>;
  var u: array<f32, ROWS>;
  for (var j = lid; j < IN_VEC4 / 2u; j += GEMV_WG) {
    let xa = x[xbase + 2u * j];
    let xb = x[xbase + 2u * j + 1u];
    for (var r = 0u; r < ROWS; r++) {
      let row = min(row0 + r, part.rows - 1u);
      let wg = w8(row, j);
      let wu = w8_up(row, j);
      g[r] += dot(wg.a, xa) + dot(wg.b, xb);
      u[r] += dot(wu.a, xa) + dot(wu.b, xb);
    }
  }
  for (var r = 0u; r < ROWS; r++) {
    sums[r * GEMV_WG + lid] = g[r];
    sums[(ROWS + r) * GEMV_WG + lid] = u[r];
  }
  workgroupBarrier();
  for (var s = GEMV_WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      for (var r = 0u; r < 2u * ROWS; r++) { sums[r * GEMV_WG + lid] += sums[r * GEMV_WG + lid + s]; }
    }
    workgroupBarrier();
  }
  if (lid < ROWS && row0 + lid < part.rows) {
    let a = sums[lid * GEMV_WG];
    y[token * Y_STRIDE + part.row_offset + row0 + lid] = a / (1.0 + exp(-a)) * sums[(ROWS + lid) * GEMV_WG];
  }
}
