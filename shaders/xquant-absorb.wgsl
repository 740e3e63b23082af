// Rematerializing decode attention, second half: the probability-weighted sum of the V-side rows (X̂, the
// V latent, or raw V) per (head, chunk), with V absorbed: W_v is applied once per head afterwards
// (xquant-values.wgsl), so past V is never built. Workgroup (chunk c, slice of VS elements, block of HB
// heads) walks the chunk's tokens in tiles of TT: the tile's probabilities p = e^(score - max) for the
// block's heads (scores and max from xquant-scores.wgsl) and the slice of its rows, dequantized once for
// all heads, go to workgroup memory; invocation e accumulates element e for every head of the block.
// Writes Σ p·row (the slice) after the (max, sum) that xquant-scores.wgsl put in the head's `partial` row.
// kivi (IDENTITY_V): a head reads only its kv head's elements, the others are skipped.
// Constants: VW (V-side width), VS (= WG), HB, HEADS, HEAD_DIM, KV_GROUP, TT, IDENTITY_V, WINDOW, SCORES_BASE, plus the
// prefixes'.

@group(0) @binding(1) var<storage, read> x_pages: array<u32>;
@group(0) @binding(2) var<storage, read> x_pool: array<u32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;
@group(0) @binding(4) var<uniform> layer_params: LayerParams;
fn layer() -> u32 { return layer_params.index; }

var<workgroup> rows: array<f32, TT * VS>;
var<workgroup> ps: array<f32, TT * HB>;
var<workgroup> top: array<f32, HB>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let index = wid.x + wid.y * nwg.x;
  let slices = (VW + VS - 1u) / VS;
  let c = index % step.x_chunks;
  let sl = (index / step.x_chunks) % slices;
  let hb = index / (step.x_chunks * slices);
  if (hb >= HEADS / HB) { return; }
  let keys = chunk_keys(c, step.x_chunks, step.x_chunk_len, 0u, step.first_key, step.pos0, WINDOW);
  let lo = keys.x;
  let hi = keys.y;
  let head0 = hb * HB;
  let e = sl * VS + lid;
  for (var j = lid; j < HB; j += WG) { top[j] = partial[((head0 + j) * step.x_chunks + c) * (VW + 2u)]; }

  var acc: array<f32, HB>;
  for (var start = lo; start < hi; start += TT) {
    let n = min(TT, hi - start);
    workgroupBarrier(); // top is written; the previous tile is done with rows and ps
    for (var idx = lid; idx < n * HB; idx += WG) {
      let j = idx % HB;
      let score = partial[SCORES_BASE + (start + idx / HB) * HEADS + head0 + j];
      ps[idx] = select(exp(score - top[j]), 0.0, score <= -1.0e38);
    }
    for (var idx = lid; idx < n * VS; idx += WG) {
      let i = sl * VS + idx % VS;
      rows[idx] = select(0.0, v_src(layer(), start + idx / VS, i), i < VW);
    }
    workgroupBarrier();
    for (var j = 0u; j < HB; j++) {
      if (IDENTITY_V && e / HEAD_DIM != (head0 + j) / KV_GROUP) { continue; }
      var s = acc[j];
      for (var t = 0u; t < n; t++) { s += ps[t * HB + j] * rows[t * VS + lid]; }
      acc[j] = s;
    }
  }
  if (e < VW) {
    for (var j = 0u; j < HB; j++) { partial[((head0 + j) * step.x_chunks + c) * (VW + 2u) + 2u + e] = acc[j]; }
  }
}
