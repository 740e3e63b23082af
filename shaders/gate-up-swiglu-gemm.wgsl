// y = silu(W_gate x) * (W_up x) for a prefill slice, shaped for real GPUs (kernel family tiled): one workgroup
// per GEMM_TOKENS tokens x 32 output rows, its 64 tile rows (gemm-tile.wgsl) the 32 gate rows and the same 32 up
// rows, so each invocation holds its rows' gate and up sums (tile rows tx, tx + 16 and tx + 32, tx + 48).
// Constants: W_ROW_WORDS, W_SCALE_WORDS, IN_VEC4, X_STRIDE, Y_STRIDE, GEMM_TOKENS.

const HALF_BN: u32 = BN / 2u;

fn tile_w8(row_base: u32, r: u32, chunk: u32) -> W8 {
  let row = min(row_base + r % HALF_BN, part.rows - 1u);
  if (r < HALF_BN) { return w8(row, chunk); }
  return w8_up(row, chunk);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = wid.x + wid.y * nwg.x;
  let row_tiles = (part.rows + HALF_BN - 1u) / HALF_BN;
  let row_base = (group % row_tiles) * HALF_BN;
  let tok_base = (group / row_tiles) * BM;
  if (tok_base >= step.tokens) { return; }
  let acc = gemm_tile(lid, row_base, tok_base);
  for (var i = 0u; i < TM; i++) {
    let tok = tok_base + (lid / 16u) * TM + i;
    if (tok >= step.tokens) { break; }
    for (var j = 0u; j < TN / 2u; j++) {
      let row = row_base + lid % 16u + 16u * j;
      if (row >= part.rows) { continue; }
      let g = acc[i][j];
      y[tok * Y_STRIDE + part.row_offset + row] = gate_act(g) * acc[i][j + 2u];
    }
  }
}
