// y[m, :] = x[m, :] / sqrt(mean(x[m, :]^2) + EPS) * gamma (added to y where ACCUMULATE: Gemma's post-norms join the
// residual stream so), one workgroup per token.
// Constants: D, STRIDE (activation row stride), EPS, ACCUMULATE.

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let m = wid.x;
  let base = m * STRIDE;
  var s = 0.0;
  for (var i = lid; i < D; i += WG) { s += x[base + i] * x[base + i]; }
  partial[lid] = s;
  workgroupBarrier();
  for (var width = WG / 2u; width > 0u; width >>= 1u) {
    if (lid < width) { partial[lid] += partial[lid + width]; }
    workgroupBarrier();
  }
  let inv = inverseSqrt(partial[0] / f32(D) + EPS);
  for (var i = lid; i < D; i += WG) {
    let n = x[base + i] * inv * gamma[i];
    if (ACCUMULATE) { y[base + i] += n; } else { y[base + i] = n; }
  }
}
