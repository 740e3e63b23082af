// y = W x (+ bias) (+ y when ACCUMULATE) for one token per workgroup row group: the decode GEMV shaped for
// real GPUs (kernel class `gpu`, src/gpu/kernel-class.ts). A workgroup of GEMV_WG invocations computes ROWS
// output rows of one token: invocation i reads the rows' weight chunks i, i + GEMV_WG, ... so adjacent
// invocations read adjacent words (coalesced), the activation chunk is loaded once for all ROWS rows, and
// the partial sums meet in reduce_rows (gemv-reduce-subgroup.wgsl or gemv-reduce-workgroup.wgsl). Grid:
// (row groups x tokens) workgroups, folded into y past 65535. With LAST_ONLY only the step's last token is
// computed, into y's row 0.
// With NORM the RMSNorm before the projection is fused in: x is the residual stream, each chunk is scaled
// by gamma as it is loaded, Σx² rides along as one more sum, and the row totals are scaled by
// 1/sqrt(mean(x²) + EPS) (x's padding columns are zero, so they add nothing to Σx²).
// Constants: W_ROW_WORDS, W_SCALE_WORDS, IN_VEC4, X_STRIDE, Y_STRIDE, HAS_BIAS, ACCUMULATE, LAST_ONLY,
// ROWS, GEMV_WG (a power of two), SUM_ROWS (= ROWS + 1), NORM, NORM_D, EPS.

@group(0) @binding(7) var<storage, read> gamma: array<vec4<f32>>;

@compute @workgroup_size(GEMV_WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = wid.x + wid.y * nwg.x;
  let row_groups = (part.rows + ROWS - 1u) / ROWS;
  let row0 = (group % row_groups) * ROWS;
  var token = group / row_groups;
  var out_token = token;
  if (LAST_ONLY) {
    if (token > 0u) { return; }
    token = step.tokens - 1u;
    out_token = 0u;
  }
  if (token >= step.tokens) { return; }
  let xbase = token * (X_STRIDE / 4u);
  // The rows' sums, then Σx² (NORM; the extra slot is unused otherwise).
  var acc: array<f32, SUM_ROWS>;
  for (var j = lid; j < IN_VEC4 / 2u; j += GEMV_WG) {
    var xa = x[xbase + 2u * j];
    var xb = x[xbase + 2u * j + 1u];
    if (NORM) {
      acc[ROWS] += dot(xa, xa) + dot(xb, xb);
      xa *= gamma[2u * j];
      xb *= gamma[2u * j + 1u];
    }
    for (var r = 0u; r < ROWS; r++) {
      // The last group's missing rows read a real row; their sums are never written.
      let wv = w8(min(row0 + r, part.rows - 1u), j);
      acc[r] += dot(wv.a, xa) + dot(wv.b, xb);
    }
  }
  reduce_rows(acc, lid);
  if (lid < ROWS && row0 + lid < part.rows) {
    let out_col = part.row_offset + row0 + lid;
    var v = row_total(lid);
    if (NORM) { v *= inverseSqrt(row_total(ROWS) / f32(NORM_D) + EPS); }
    if (HAS_BIAS) { v += bias[out_col]; }
    let yi = out_token * Y_STRIDE + out_col;
    if (ACCUMULATE) { v += y[yi]; }
    y[yi] = v;
  }
}
