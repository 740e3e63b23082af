// Writes the step's new tokens that stay in the residual window into its f16 ring (xquant-store prefix),
// after xquant-append.wgsl has quantized the tokens leaving it (their slots are reused).
// One invocation per (token, pair of elements). Constants: D, X_STRIDE, plus the prefix's.

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> x_pages: array<u32>;
@group(0) @binding(3) var<storage, read_write> x_pool: array<u32>;
@group(0) @binding(4) var<uniform> layer_params: LayerParams;
// The layer is a uniform, not a constant, so one pipeline serves every layer.
fn layer() -> u32 { return layer_params.index; }

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = flat_id(gid, nwg);
  let m = id / RING_ROW_WORDS;
  let p = id % RING_ROW_WORDS;
  if (m >= step.tokens) { return; }
  let t = step.pos0 + m;
  if (t + RESIDUAL < step.pos0 + step.tokens) { return; } // already out of the window
  let i = 2u * p;
  let a = x[m * X_STRIDE + i];
  let b = select(0.0, x[m * X_STRIDE + i + 1u], i + 1u < D);
  x_pool[RING_BASE + (layer() * RING_STRIDE + t % max(RING_SLOTS, 1u)) * RING_ROW_WORDS + p] = pack_f16(a, b);
}
