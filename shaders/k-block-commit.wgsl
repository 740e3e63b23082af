// kivi / xquant-gqa: quantize, per channel over PAGE tokens, every K block that this step completes (all
// its tokens older than the residual window), from the f16 K ring into the block's page
// (k-block-sources.wgsl layout). One invocation per (block, channel); the quantizer is the reference's.
// Constants: KW, plus the prefixes'.

@group(0) @binding(1) var<storage, read> unused: array<f32>;
@group(0) @binding(2) var<storage, read> x_pages: array<u32>;
@group(0) @binding(3) var<storage, read_write> x_pool: array<u32>;
@group(0) @binding(4) var<uniform> layer_params: LayerParams;
// The layer is a uniform, not a constant, so one pipeline serves every layer.
fn layer() -> u32 { return layer_params.index; }

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = flat_id(gid, nwg);
  let ch = id % KW;
  let j = id / KW;
  let before = ((max(step.pos0, RESIDUAL) - RESIDUAL) / PAGE) * PAGE;
  let after = ((max(step.pos0 + step.tokens, RESIDUAL) - RESIDUAL) / PAGE) * PAGE;
  let first = before + j * PAGE;
  if (first >= after) { return; }
  var lo = 3.4e38;
  var hi = -3.4e38;
  for (var t = 0u; t < PAGE; t++) {
    let v = k_ring(layer(), first + t, ch);
    lo = min(lo, v);
    hi = max(hi, v);
  }
  let bits = LAYER_BITS[layer()];
  let q = group_scale(lo, hi, bits);
  let gbase = x_pages[(first / PAGE) * LAYERS + layer()] + ch * (1u + K_GROUP_WORDS[layer()]);
  x_pool[gbase] = q.packed;
  var out = CodeWriter(gbase + 1u, 0u, 0u);
  for (var t = 0u; t < PAGE; t++) {
    var code = 0u;
    if (q.scale > 0.0) { code = round_code(k_ring(layer(), first + t, ch), q.zero, q.scale, q.levels); }
    put_code(&out, code, bits);
  }
  flush_codes(&out);
}
