// y = silu(W_gate x) * (W_up x), one token per workgroup row group: the MLP's two projections and SwiGLU in
// one dispatch, shaped for real GPUs (kernel family tiled; the layout of linear-gemv.wgsl: ROW_SLOTS row
// slots of K_LANES lanes that split K in 16-byte weight blocks, LANE_ROWS rows per lane, the activation
// block loaded once for both matrices and all of a lane's rows, sums met in reduce_lanes). The up matrix is
// read through the weights prefix renamed for it (w_dot_up). With NORM the RMSNorm before the MLP is fused
// in (gemv-norm.wgsl).
// Constants: W_ROW_WORDS, W_SCALE_WORDS, IN_VEC4, BLOCK_VEC4, X_STRIDE, Y_STRIDE, GEMV_WG, K_LANES,
// ROW_SLOTS, LANE_ROWS, LANE_SUMS (= 2 LANE_ROWS + 1), NORM, NORM_D, EPS.

@group(0) @binding(8) var<storage, read> gamma: array<vec4<f32>>;

const ROWS: u32 = ROW_SLOTS * LANE_ROWS; // rows per workgroup
const BLOCKS: u32 = IN_VEC4 / BLOCK_VEC4; // 16-byte weight blocks per row

@compute @workgroup_size(GEMV_WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = wid.x + wid.y * nwg.x;
  let row_groups = (part.rows + ROWS - 1u) / ROWS;
  let token = group / row_groups;
  if (token >= step.tokens) { return; }
  let slot = lid / K_LANES;
  let klane = lid % K_LANES;
  let row0 = (group % row_groups) * ROWS + slot * LANE_ROWS;
  let xbase = token * (X_STRIDE / 4u);
  // Gate sums in acc[0 .. LANE_ROWS), up sums in acc[LANE_ROWS .. 2 LANE_ROWS), then Σx² (NORM).
  var acc: array<f32, LANE_SUMS>;
  for (var q = klane; q < BLOCKS; q += K_LANES) {
    let xb = x_block(xbase, q);
    acc[2u * LANE_ROWS] += xb.sq;
    for (var r = 0u; r < LANE_ROWS; r++) {
      let row = min(row0 + r, part.rows - 1u);
      acc[r] += w_dot(row, q, xb.v);
      acc[LANE_ROWS + r] += w_dot_up(row, q, xb.v);
    }
  }
  reduce_lanes(acc, slot, klane);
  if (klane < LANE_ROWS && row0 + klane < part.rows) {
    let inv = norm_scale(lane_total(slot, 2u * LANE_ROWS));
    let a = lane_total(slot, klane) * inv;
    y[token * Y_STRIDE + part.row_offset + row0 + klane] = gate_act(a) * lane_total(slot, LANE_ROWS + klane) * inv;
  }
}
