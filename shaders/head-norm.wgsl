// Per-head RMSNorm of q and k in place, before RoPE (Qwen3's q_norm and k_norm): each head's HEAD_DIM values
// divided by their root mean square (EPS added to the mean square) and scaled by the norm's weights, one
// invocation per (token, head). Constants: HEAD_DIM, Q_HEADS, K_HEADS, Q_STRIDE, K_STRIDE, EPS.

@group(0) @binding(1) var<storage, read_write> q: array<f32>;
@group(0) @binding(2) var<storage, read_write> k: array<f32>;
@group(0) @binding(3) var<storage, read> q_gamma: array<f32>;
@group(0) @binding(4) var<storage, read> k_gamma: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = flat_id(gid, nwg);
  let head = id % (Q_HEADS + K_HEADS);
  let m = id / (Q_HEADS + K_HEADS);
  if (m >= step.tokens) { return; }
  var s = 0.0;
  if (head < Q_HEADS) {
    let base = m * Q_STRIDE + head * HEAD_DIM;
    for (var i = 0u; i < HEAD_DIM; i++) { s += q[base + i] * q[base + i]; }
    let inv = inverseSqrt(s / f32(HEAD_DIM) + EPS);
    for (var i = 0u; i < HEAD_DIM; i++) { q[base + i] = q[base + i] * inv * q_gamma[i]; }
  } else {
    let base = m * K_STRIDE + (head - Q_HEADS) * HEAD_DIM;
    for (var i = 0u; i < HEAD_DIM; i++) { s += k[base + i] * k[base + i]; }
    let inv = inverseSqrt(s / f32(HEAD_DIM) + EPS);
    for (var i = 0u; i < HEAD_DIM; i++) { k[base + i] = k[base + i] * inv * k_gamma[i]; }
  }
}
