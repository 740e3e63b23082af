// The sum across a GEMV workgroup without subgroups: every invocation holds SUM_ROWS partial sums; they
// meet in a tree in workgroup memory. After reduce_rows, row_total(r) is the workgroup's sum of acc[r].
// Constants: SUM_ROWS, GEMV_WG (a power of two).

var<workgroup> partials: array<f32, SUM_ROWS * GEMV_WG>;

fn reduce_rows(acc: array<f32, SUM_ROWS>, lid: u32) {
  for (var r = 0u; r < SUM_ROWS; r++) { partials[r * GEMV_WG + lid] = acc[r]; }
  workgroupBarrier();
  for (var s = GEMV_WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      for (var r = 0u; r < SUM_ROWS; r++) { partials[r * GEMV_WG + lid] += partials[r * GEMV_WG + lid + s]; }
    }
    workgroupBarrier();
  }
}

fn row_total(r: u32) -> f32 {
  return partials[r * GEMV_WG];
}
