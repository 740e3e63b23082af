// SwiGLU: g = silu(g) * u in place, for the step's tokens. Constants: F (intermediate size), STRIDE.

@group(0) @binding(1) var<storage, read_write> g: array<f32>;
@group(0) @binding(2) var<storage, read> u: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = flat_id(gid, nwg);
  let m = id / F;
  let i = id % F;
  if (m >= step.tokens) { return; }
  let at = m * STRIDE + i;
  let a = g[at];
  g[at] = a / (1.0 + exp(-a)) * u[at];
}
