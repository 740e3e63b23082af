// y = W x (+ bias) (+ y when ACCUMULATE) for a prefill slice, shaped for real GPUs (kernel family tiled): one
// workgroup per tile of GEMM_TOKENS tokens x 64 rows (gemm-tile.wgsl). Grid: (row tiles x token tiles)
// workgroups, folded into y past 65535. Constants: W_ROW_WORDS, W_SCALE_WORDS, IN_VEC4, X_STRIDE, Y_STRIDE,
// HAS_BIAS, ACCUMULATE, GEMM_TOKENS.

/** Rows past the part repeat its last (their sums are never written). */
fn tile_w8(row_base: u32, r: u32, chunk: u32) -> W8 {
  return w8(min(row_base + r, part.rows - 1u), chunk);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = wid.x + wid.y * nwg.x;
  let row_tiles = (part.rows + BN - 1u) / BN;
  let row_base = (group % row_tiles) * BN;
  let tok_base = (group / row_tiles) * BM;
  if (tok_base >= step.tokens) { return; }
  let acc = gemm_tile(lid, row_base, tok_base);
  for (var i = 0u; i < TM; i++) {
    let tok = tok_base + (lid / 16u) * TM + i;
    if (tok >= step.tokens) { break; }
    for (var j = 0u; j < TN; j++) {
      let row = row_base + lid % 16u + 16u * j;
      if (row >= part.rows) { continue; }
      let out_col = part.row_offset + row;
      var v = acc[i][j];
      if (HAS_BIAS) { v += bias[out_col]; }
      let yi = tok * Y_STRIDE + out_col;
      if (ACCUMULATE) { v += y[yi]; }
      y[yi] = v;
    }
  }
}
