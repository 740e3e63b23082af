// Merge of the rematerializing attention's chunks and its absorbed V: for (m, head h, element r),
// x̄ = Σ_c e^(max_c - M) Σp·row_c / S is the probability-weighted mean of the V-side rows (X̂, or the
// V latent) over all past tokens, and v = W[row] · x̄ + b_v with W = W_v (xquant) or Σ_v B_vᵀ
// (xquant-gqa); kivi's rows are V itself (IDENTITY_V). The result goes to slot 0 of the standard attention
// partials as (M, S, S·v), where attention-merge.wgsl combines it with the step's own tokens (exact K/V).
// Constants: D, DP (V-side width and its 32-padding), HEAD_DIM, HEADS, KV_GROUP, MAX_X_CHUNKS,
// IDENTITY_V, W_ROW_WORDS, W_SCALE_WORDS, HAS_BIAS.

@group(0) @binding(1) var<storage, read> xpart: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> ws: array<u32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> partial: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = flat_id(gid, nwg);
  let r = id % HEAD_DIM;
  let h = (id / HEAD_DIM) % HEADS;
  let m = id / (HEAD_DIM * HEADS);
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
    if (r == 0u) {
      partial[out] = -3.0e38;
      partial[out + 1u] = 0.0;
    }
    partial[out + 2u + r] = 0.0;
    return;
  }
  let row = (h / KV_GROUP) * HEAD_DIM + r;
  var v = 0.0;
  if (IDENTITY_V) {
    for (var c = 0u; c < step.x_chunks; c++) { v += weight[c] * xpart[(first + c) * (D + 2u) + 2u + row]; }
    v /= total;
  }
  for (var j = 0u; j < select(DP / 8u, 0u, IDENTITY_V); j++) {
    let wv = w8(row, j);
    var xb: array<f32, 8>;
    for (var k = 0u; k < 8u; k++) {
      let i = 8u * j + k;
      var s = 0.0;
      if (i < D) {
        for (var c = 0u; c < step.x_chunks; c++) { s += weight[c] * xpart[(first + c) * (D + 2u) + 2u + i]; }
      }
      xb[k] = s / total;
    }
    v += dot(wv.a, vec4<f32>(xb[0], xb[1], xb[2], xb[3])) + dot(wv.b, vec4<f32>(xb[4], xb[5], xb[6], xb[7]));
  }
  if (HAS_BIAS) { v += bias[row]; }
  if (r == 0u) {
    partial[out] = top;
    partial[out + 1u] = total;
  }
  partial[out + 2u + r] = total * v;
}
