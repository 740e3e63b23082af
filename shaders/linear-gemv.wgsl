// y = W x (+ bias) (+ y when ACCUMULATE) for one token per workgroup row group: the decode GEMV shaped for
// real GPUs (kernel family `tiled`, src/webgpu/kernel-family.ts). The GEMV_WG invocations of a workgroup are
// ROW_SLOTS row slots of K_LANES lanes: the lanes of a slot split K, each reading a 16-byte block (one
// vec4<u32>: 32 q4, 16 q8, 8 f16 or 4 f32 weights) per step, so adjacent lanes read adjacent 16-byte words
// of a row (coalesced, K_LANES x 16 bytes per row and step) and a q4 scale is loaded once per 32 weights.
// Each lane computes LANE_ROWS rows (ROWS = ROW_SLOTS x LANE_ROWS per workgroup), loading its activation
// block once for all of them; the slot's sums meet in reduce_lanes (gemv-reduce-subgroup.wgsl or
// gemv-reduce-workgroup.wgsl). Grid: (row groups x tokens) workgroups, folded into y past 65535. With
// LAST_ONLY only the step's last token is computed, into y's row 0.
// With NORM the RMSNorm before the projection is fused in (gemv-norm.wgsl): x is the residual stream, Σx²
// rides along as one more sum, and the row totals are scaled by 1/rms.
// With ROPE (q and k projections) the rotary embedding is applied as the rows are written: a workgroup's
// rows are ROWS / 2 rows of a head's first half and their partners HALF further on (rotate-half pairs), so
// each output sees its partner's sum in workgroup memory; angles from the (cos, sin) table at the token's
// position. Needs the part to hold whole heads (the builder checks).
// Constants: W_ROW_WORDS, W_SCALE_WORDS, IN_VEC4, BLOCK_VEC4, X_STRIDE, Y_STRIDE, HAS_BIAS, ACCUMULATE,
// LAST_ONLY, GEMV_WG, K_LANES (a power of two dividing GEMV_WG), ROW_SLOTS (= GEMV_WG / K_LANES), LANE_ROWS,
// LANE_SUMS (= LANE_ROWS + 1), NORM, NORM_D, EPS, ROPE, HALF (head_dim / 2).

@group(0) @binding(7) var<storage, read> gamma: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read> rope_table: array<vec2<f32>>;

const ROWS: u32 = ROW_SLOTS * LANE_ROWS; // rows per workgroup
const BLOCKS: u32 = IN_VEC4 / BLOCK_VEC4; // 16-byte weight blocks per row
const PAIRS: u32 = max(ROWS / 2u, 1u); // rotate-half pairs per workgroup (ROPE: ROWS is even)

/** The part row that workgroup row r of row group g computes. */
fn row_of(g: u32, r: u32) -> u32 {
  if (!ROPE) { return g * ROWS + r; }
  let groups_per_head = HALF / PAIRS;
  let head_row = (g / groups_per_head) * 2u * HALF;
  let i0 = (g % groups_per_head) * PAIRS;
  return head_row + select(HALF + i0 + r - PAIRS, i0 + r, r < PAIRS);
}

@compute @workgroup_size(GEMV_WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = wid.x + wid.y * nwg.x;
  let row_groups = (part.rows + ROWS - 1u) / ROWS;
  let g = group % row_groups;
  var token = group / row_groups;
  var out_token = token;
  if (LAST_ONLY) {
    if (token > 0u) { return; }
    token = step.tokens - 1u;
    out_token = 0u;
  }
  if (token >= step.tokens) { return; }
  let slot = lid / K_LANES;
  let klane = lid % K_LANES;
  let xbase = token * (X_STRIDE / 4u);
  // The lane's rows' sums, then Σx² (NORM; the extra sum is unused otherwise).
  var acc: array<f32, LANE_SUMS>;
  for (var q = klane; q < BLOCKS; q += K_LANES) {
    let xb = x_block(xbase, q);
    acc[LANE_ROWS] += xb.sq;
    for (var r = 0u; r < LANE_ROWS; r++) {
      // The last group's missing rows read a real row; their sums are never written.
      acc[r] += w_dot(min(row_of(g, slot * LANE_ROWS + r), part.rows - 1u), q, xb.v);
    }
  }
  reduce_lanes(acc, slot, klane);
  // Lane k < LANE_ROWS of each slot writes the slot's row k.
  let wr = slot * LANE_ROWS + klane;
  let row = row_of(g, wr);
  if (klane < LANE_ROWS && row < part.rows) {
    let out_col = part.row_offset + row;
    var v = row_value(wr, out_col);
    if (ROPE) {
      let partner = (wr + PAIRS) % ROWS;
      let vp = row_value(partner, part.row_offset + row_of(g, partner));
      let cs = rope_table[(step.pos0 + token) * HALF + (row % (2u * HALF)) % HALF];
      v = select(v * cs.x + vp * cs.y, v * cs.x - vp * cs.y, wr < PAIRS);
    }
    let yi = out_token * Y_STRIDE + out_col;
    if (ACCUMULATE) { v += y[yi]; }
    y[yi] = v;
  }
}

/** Workgroup row r's finished sum before RoPE: the norm's scale and the bias applied. */
fn row_value(r: u32, out_col: u32) -> f32 {
  let slot = r / LANE_ROWS;
  var v = lane_total(slot, r % LANE_ROWS) * norm_scale(lane_total(slot, LANE_ROWS));
  if (HAS_BIAS) { v += bias[out_col]; }
  return v;
}
