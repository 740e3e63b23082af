// y = W x (+ bias) (+ y when ACCUMULATE) for one token per workgroup row group: the decode GEMV shaped for
// real GPUs (kernel class `gpu`, src/gpu/kernel-class.ts). A workgroup of GEMV_WG invocations computes ROWS
// output rows of one token: invocation i reads the rows' weight chunks i, i + GEMV_WG, ... so adjacent
// invocations read adjacent words (coalesced), the activation chunk is loaded once for all ROWS rows, and
// the partial sums meet in reduce_rows (gemv-reduce-subgroup.wgsl or gemv-reduce-workgroup.wgsl). Grid:
// (row groups x tokens) workgroups, folded into y past 65535. With LAST_ONLY only the step's last token is
// computed, into y's row 0.
// With NORM the RMSNorm before the projection is fused in (gemv-norm.wgsl): x is the residual stream, Σx²
// rides along as one more sum, and the row totals are scaled by 1/rms.
// With ROPE (q and k projections) the rotary embedding is applied as the rows are written: a workgroup's
// rows are ROWS / 2 rows of a head's first half and their partners HALF further on (rotate-half pairs), so
// each output sees its partner's sum in workgroup memory; angles from the (cos, sin) table at the token's
// position. Needs the part to hold whole heads (the builder checks).
// Constants: W_ROW_WORDS, W_SCALE_WORDS, IN_VEC4, X_STRIDE, Y_STRIDE, HAS_BIAS, ACCUMULATE, LAST_ONLY,
// ROWS, GEMV_WG (a power of two), SUM_ROWS (= ROWS + 1), NORM, NORM_D, EPS, ROPE, HALF (head_dim / 2).

@group(0) @binding(7) var<storage, read> gamma: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read> rope_table: array<vec2<f32>>;

const PAIRS: u32 = max(ROWS / 2u, 1u); // rotate-half pairs per workgroup (ROPE: ROWS is even)

/** The part row that workgroup slot r of row group g computes. */
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
  let xbase = token * (X_STRIDE / 4u);
  // The rows' sums, then Σx² (NORM; the extra slot is unused otherwise).
  var acc: array<f32, SUM_ROWS>;
  for (var j = lid; j < IN_VEC4 / 2u; j += GEMV_WG) {
    let xv = x8(xbase, j);
    acc[ROWS] += xv.sq;
    for (var r = 0u; r < ROWS; r++) {
      // The last group's missing rows read a real row; their sums are never written.
      let wv = w8(min(row_of(g, r), part.rows - 1u), j);
      acc[r] += dot(wv.a, xv.a) + dot(wv.b, xv.b);
    }
  }
  reduce_rows(acc, lid);
  let row = row_of(g, lid);
  if (lid < ROWS && row < part.rows) {
    let out_col = part.row_offset + row;
    var v = row_value(lid, out_col);
    if (ROPE) {
      let partner = (lid + PAIRS) % ROWS;
      let vp = row_value(partner, part.row_offset + row_of(g, partner));
      let cs = rope_table[(step.pos0 + token) * HALF + (row % (2u * HALF)) % HALF];
      v = select(v * cs.x + vp * cs.y, v * cs.x - vp * cs.y, lid < PAIRS);
    }
    let yi = out_token * Y_STRIDE + out_col;
    if (ACCUMULATE) { v += y[yi]; }
    y[yi] = v;
  }
}

/** Row slot r's finished sum before RoPE: the norm's scale and the bias applied. */
fn row_value(r: u32, out_col: u32) -> f32 {
  var v = row_total(r) * norm_scale(row_total(ROWS));
  if (HAS_BIAS) { v += bias[out_col]; }
  return v;
}
