// The sum across a GEMV workgroup with subgroups (the kernel enables `subgroups`): each subgroup adds its
// lanes with subgroupAdd, its elected lane stores the subgroup's total in a slot, and row_total adds the
// slots: one barrier instead of log2(GEMV_WG). Subgroups are taken to cover consecutive invocation indices,
// as 1-D compute workgroups are laid out; slots no subgroup writes stay zero (workgroup memory starts
// zeroed), so adding all of them is exact. Constants: SUM_ROWS, GEMV_WG.

const SLOTS: u32 = GEMV_WG / 4u; // a WebGPU subgroup has at least 4 lanes

var<workgroup> partials: array<f32, SUM_ROWS * SLOTS>;

fn reduce_rows(acc: array<f32, SUM_ROWS>, lid: u32) {
  let lanes = subgroupAdd(1u);
  let slot = lid / lanes;
  let elected = subgroupElect();
  for (var r = 0u; r < SUM_ROWS; r++) {
    let total = subgroupAdd(acc[r]);
    if (elected) { partials[r * SLOTS + slot] = total; }
  }
  workgroupBarrier();
}

fn row_total(r: u32) -> f32 {
  var t = 0.0;
  for (var s = 0u; s < SLOTS; s++) { t += partials[r * SLOTS + s]; }
  return t;
}
