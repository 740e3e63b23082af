// y = silu(W_gate x) * (W_up x), one token per workgroup row group: the MLP's two projections and SwiGLU in
// one dispatch, shaped for real GPUs (kernel class gpu; the layout of linear-gemv-gpu.wgsl: a workgroup of
// GEMV_WG invocations per ROWS rows, adjacent invocations reading adjacent weight words, the activation
// chunk loaded once for both matrices, sums met in reduce_rows). The up matrix is read through the weights
// prefix renamed for it (w8_up). With NORM the RMSNorm before the MLP is fused in (gemv-norm.wgsl).
// Constants: W_ROW_WORDS, W_SCALE_WORDS, IN_VEC4, X_STRIDE, Y_STRIDE, ROWS, GEMV_WG (a power of two),
// SUM_ROWS (= 2 ROWS + 1), NORM, NORM_D, EPS.

@group(0) @binding(8) var<storage, read> gamma: array<vec4<f32>>;

@compute @workgroup_size(GEMV_WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = wid.x + wid.y * nwg.x;
  let row_groups = (part.rows + ROWS - 1u) / ROWS;
  let row0 = (group % row_groups) * ROWS;
  let token = group / row_groups;
  if (token >= step.tokens) { return; }
  let xbase = token * (X_STRIDE / 4u);
  // Gate sums in acc[0 .. ROWS), up sums in acc[ROWS .. 2 ROWS), then Σx² (NORM).
  var acc: array<f32, SUM_ROWS>;
  for (var j = lid; j < IN_VEC4 / 2u; j += GEMV_WG) {
    let xv = x8(xbase, j);
    acc[2u * ROWS] += xv.sq;
    for (var r = 0u; r < ROWS; r++) {
      let row = min(row0 + r, part.rows - 1u);
      let wg = w8(row, j);
      let wu = w8_up(row, j);
      acc[r] += dot(wg.a, xv.a) + dot(wg.b, xv.b);
      acc[ROWS + r] += dot(wu.a, xv.a) + dot(wu.b, xv.b);
    }
  }
  reduce_rows(acc, lid);
  if (lid < ROWS && row0 + lid < part.rows) {
    let inv = norm_scale(row_total(2u * ROWS));
    let a = row_total(lid) * inv;
    y[token * Y_STRIDE + part.row_offset + row0 + lid] = a / (1.0 + exp(-a)) * row_total(ROWS + lid) * inv;
  }
}
