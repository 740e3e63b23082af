// Merge of the rematerializing attention's chunks and its absorbed V: for (m, head h), x̄ = Σ_c e^(max_c - M)
// Σp·row_c / S is the probability-weighted mean of the V-side rows (X̂, or the V latent) over all past tokens,
// and v = W[rows of h's kv head] · x̄ + b_v with W = W_v (xquant) or Σ_v B_vᵀ (xquant-gqa); kivi's rows are V
// itself (IDENTITY_V). One workgroup per (m, h): x̄ is merged once, SLICE elements at a time into workgroup
// memory, and read there by every row of the head (invocation lid owns rows lid, lid + WG, ...: RPT of them).
// The result goes to slot 0 of the standard attention partials as (M, S, S·v), where attention-merge.wgsl
// combines it with the step's own tokens (exact K/V).
// Constants: D, DP (V-side width and its 32-padding), SLICE (a multiple of 32), HEAD_DIM, RPT, HEADS, KV_GROUP,
// MAX_X_CHUNKS, IDENTITY_V, W_ROW_WORDS, W_SCALE_WORDS, HAS_BIAS.

@group(0) @binding(1) var<storage, read> xpart: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> ws: array<u32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> partial: array<f32>;

var<workgroup> xs: array<f32, SLICE>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let index = wid.x + wid.y * nwg.x;
  let h = index % HEADS;
  let m = index / HEADS;
  if (m >= step.tokens) { return; }
  let first = (m * HEADS + h) * step.x_chunks;
  var top = -3.0e38;
  for (var c = 0u; c < step.x_chunks; c++) { top = max(top, xpart[(first + c) * (D + 2u)]); }
  var weight: array<f32, MAX_X_CHUNKS>;
  var total = 0.0;
  for (var c = 0u; c < step.x_chunks; c++) {
    let at = (first + c) * (D + 2u);
    weight[c] = exp(xpart[at] - top);
    total += weight[c] * xpart[at + 1u];
  }
  let slots = step.chunks + 1u;
  let out = ((m * HEADS + h) * slots) * (HEAD_DIM + 2u);
  if (total == 0.0) {
    // no past tokens (an empty cache, or all outside the sliding window)
    if (lid == 0u) {
      partial[out] = -3.0e38;
      partial[out + 1u] = 0.0;
    }
    for (var r = lid; r < HEAD_DIM; r += WG) { partial[out + 2u + r] = 0.0; }
    return;
  }
  let row0 = (h / KV_GROUP) * HEAD_DIM;
  var v: array<f32, RPT>;
  for (var k = 0u; k < RPT; k++) { v[k] = 0.0; }
  if (IDENTITY_V) {
    for (var k = 0u; k < RPT; k++) {
      let r = lid + k * WG;
      if (r < HEAD_DIM) {
        for (var c = 0u; c < step.x_chunks; c++) { v[k] += weight[c] * xpart[(first + c) * (D + 2u) + 2u + row0 + r]; }
        v[k] /= total;
      }
    }
  } else {
    for (var s0 = 0u; s0 < DP; s0 += SLICE) {
      workgroupBarrier(); // the previous slice is read
      for (var i = lid; i < SLICE; i += WG) {
        let e = s0 + i;
        var s = 0.0;
        if (e < D) {
          for (var c = 0u; c < step.x_chunks; c++) { s += weight[c] * xpart[(first + c) * (D + 2u) + 2u + e]; }
        }
        xs[i] = s / total;
      }
      workgroupBarrier();
      let words = min(SLICE, DP - s0) / 8u;
      for (var k = 0u; k < RPT; k++) {
        let r = lid + k * WG;
        if (r < HEAD_DIM) {
          for (var j = 0u; j < words; j++) {
            let wv = w8(row0 + r, s0 / 8u + j);
            let b = 8u * j;
            v[k] += dot(wv.a, vec4<f32>(xs[b], xs[b + 1u], xs[b + 2u], xs[b + 3u])) + dot(wv.b, vec4<f32>(xs[b + 4u], xs[b + 5u], xs[b + 6u], xs[b + 7u]));
          }
        }
      }
    }
  }
  for (var k = 0u; k < RPT; k++) {
    let r = lid + k * WG;
    if (r < HEAD_DIM) {
      var x = v[k];
      if (HAS_BIAS) { x += bias[row0 + r]; }
      partial[out + 2u + r] = total * x;
    }
  }
  if (lid == 0u) {
    partial[out] = top;
    partial[out + 1u] = total;
  }
}
