// The sums of a tiled-family GEMV workgroup with subgroups (the kernel enables `subgroups`). The workgroup is
// ROW_SLOTS row slots of K_LANES lanes that split K (lane index = slot * K_LANES + k lane); every lane holds
// LANE_SUMS partial sums (its rows, then Σx²). A butterfly of subgroupShuffleXor adds each sum over the
// slot's lanes within a subgroup; where a subgroup is narrower than K_LANES, its first lane stores the
// subgroup's part in a chunk slot and lane_total adds the chunks. Subgroups are taken to cover consecutive,
// aligned invocation indices, as 1-D compute workgroups are laid out. Chunks no subgroup writes stay zero
// (workgroup memory starts zeroed), so adding all of them is exact. Constants: ROW_SLOTS, K_LANES (a power
// of two), LANE_SUMS.

const CHUNKS: u32 = max(K_LANES / 4u, 1u); // a WebGPU subgroup has at least 4 lanes

var<workgroup> partials: array<f32, ROW_SLOTS * LANE_SUMS * CHUNKS>;

fn reduce_lanes(acc: array<f32, LANE_SUMS>, slot: u32, klane: u32) {
  let width = min(subgroupAdd(1u), K_LANES); // lanes of a slot one subgroup holds
  for (var i = 0u; i < LANE_SUMS; i++) {
    var v = acc[i];
    // Masks run to K_LANES (constant, so the shuffles stay in uniform control flow); past the subgroup's
    // width the shuffled value is discarded.
    for (var m = 1u; m < K_LANES; m <<= 1u) {
      v += select(0.0, subgroupShuffleXor(v, m), m < width);
    }
    if (klane % width == 0u) { partials[(slot * LANE_SUMS + i) * CHUNKS + klane / width] = v; }
  }
  workgroupBarrier();
}

fn lane_total(slot: u32, i: u32) -> f32 {
  var t = 0.0;
  for (var c = 0u; c < CHUNKS; c++) { t += partials[(slot * LANE_SUMS + i) * CHUNKS + c]; }
  return t;
}
