// Quantize one layer's tokens into the paged per-token store (prefixes xquant-store and quantize; kivi
// and xquant-gqa store their per-token V side with it too): X itself, or for
// XQuant-CL delta layers X - X̂ of the previous layer (closed loop: against what the previous layer's
// pages reconstruct, written earlier in this forward). The tokens are those that leave the residual
// window in this step (all new tokens when RESIDUAL = 0); a window token is quantized from its f16 copy,
// as the reference does. One invocation per (token, group).
// Constants: D, X_STRIDE, plus the prefix's.

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> x_pages: array<u32>;
@group(0) @binding(3) var<storage, read_write> x_pool: array<u32>;
@group(0) @binding(4) var<uniform> layer_params: LayerParams;
// The layer is a uniform, not a constant, so one pipeline serves every layer.
fn layer() -> u32 { return layer_params.index; }

fn source(t: u32, i: u32) -> f32 {
  var v: f32;
  if (t < step.pos0) {
    v = x_window(layer(), t, i);
  } else {
    v = x[(t - step.pos0) * X_STRIDE + i];
    if (RESIDUAL > 0u) { v = f16_value(f16_bits(v)); }
  }
  if (CL_BASE > 0u && layer() >= CL_BASE) { return v - x_hat(layer() - 1u, t, i); }
  return v;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = flat_id(gid, nwg);
  let groups = (D + GROUP - 1u) / GROUP;
  let m = id / groups;
  let g = id % groups;
  // Tokens pos0 + tokens - RESIDUAL .. stay in the window; those before it are quantized by now.
  let done_before = max(step.pos0, RESIDUAL) - RESIDUAL;
  let done_after = max(step.pos0 + step.tokens, RESIDUAL) - RESIDUAL;
  if (m >= done_after - done_before) { return; }
  let t = done_before + m;
  let first = g * GROUP;
  let n = min(GROUP, D - first);
  var lo = 3.4e38;
  var hi = -3.4e38;
  for (var i = 0u; i < n; i++) {
    let v = source(t, first + i);
    lo = min(lo, v);
    hi = max(hi, v);
  }
  let bits = LAYER_BITS[layer()];
  let q = group_scale(lo, hi, bits);
  let gbase = row_base(layer(), t) + g * (1u + GROUP_WORDS[layer()]);
  x_pool[gbase] = q.packed;
  var out = CodeWriter(gbase + 1u, 0u, 0u);
  for (var i = 0u; i < n; i++) {
    var code = 0u;
    if (q.scale > 0.0) { code = round_code(source(t, first + i), q.zero, q.scale, q.levels); }
    put_code(&out, code, bits);
  }
  flush_codes(&out);
}
