// XQuant-CL's X̂ of one layer for every past token, summed once per decode step and layer into `rows` (f32, D per
// token), so the rebuilding kernels of the layer (scores and absorb in each kv-head block, or the fused attend) read
// each element once instead of summing the base row and every delta up to the layer at each read (x_hat:
// l - CL_BASE + 2 dequantized rows per element, in every kernel and block). Each element is x_past itself, so the
// kernels see the same bits. Dispatched for layers >= CL_BASE over the tokens before step.first_key (the older ones
// are rebuilt; a hot tier holds the newer ones) and, in a sliding layer, inside the query's window.
// Constants: D, WINDOW (a sliding layer's; 0: none), plus the store prefix's. Bindings: x_pages, x_pool, rows, the layer uniform.

@group(0) @binding(1) var<storage, read> x_pages: array<u32>;
@group(0) @binding(2) var<storage, read> x_pool: array<u32>;
@group(0) @binding(3) var<storage, read_write> rows: array<f32>;
@group(0) @binding(4) var<uniform> layer_params: LayerParams;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = flat_id(gid, nwg);
  let t = idx / D;
  // A sliding layer's kernels read only the query's window (Gemma 3's local layers).
  let seen = WINDOW == 0u || t + WINDOW >= step.pos0 + 1u;
  if (t < step.first_key && seen) { rows[idx] = x_past(layer_params.index, t, idx % D); }
}
