// The sums of a tiled-family GEMV workgroup without subgroups. The workgroup is ROW_SLOTS row slots of K_LANES
// lanes that split K; every lane holds LANE_SUMS partial sums (its rows, then Σx²). They meet per slot in a
// tree in workgroup memory; after reduce_lanes, lane_total(slot, i) is slot's sum of acc[i] over its lanes.
// Constants: ROW_SLOTS, K_LANES (a power of two), LANE_SUMS.

var<workgroup> partials: array<f32, ROW_SLOTS * LANE_SUMS * K_LANES>;

fn reduce_lanes(acc: array<f32, LANE_SUMS>, slot: u32, klane: u32) {
  let base = slot * LANE_SUMS * K_LANES + klane;
  for (var i = 0u; i < LANE_SUMS; i++) { partials[base + i * K_LANES] = acc[i]; }
  workgroupBarrier();
  for (var s = K_LANES / 2u; s > 0u; s >>= 1u) {
    if (klane < s) {
      for (var i = 0u; i < LANE_SUMS; i++) { partials[base + i * K_LANES] += partials[base + i * K_LANES + s]; }
    }
    workgroupBarrier();
  }
}

fn lane_total(slot: u32, i: u32) -> f32 {
  return partials[(slot * LANE_SUMS + i) * K_LANES];
}
