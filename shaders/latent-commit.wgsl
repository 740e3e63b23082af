// kivi / xquant-gqa: quantize, per channel over PAGE tokens, every K block that this step completes (all
// its tokens older than the residual window), from the f16 K ring into the block's page
// (latent-sources.wgsl layout). One invocation per (block, channel); the quantizer is the reference's.
// Constants: LAYER, KW, plus the prefixes'.

@group(0) @binding(1) var<storage, read> unused: array<f32>;
@group(0) @binding(2) var<storage, read> x_pages: array<u32>;
@group(0) @binding(3) var<storage, read_write> x_pool: array<u32>;

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
    let v = k_ring(LAYER, first + t, ch);
    lo = min(lo, v);
    hi = max(hi, v);
  }
  let bits = LAYER_BITS[LAYER];
  let levels = (1u << bits) - 1u;
  let zero_bits = f16_floor(lo);
  let zero = f16_value(zero_bits);
  let scale_bits = f16_ceil((hi - zero) / f32(levels));
  let scale = f16_value(scale_bits);
  let gbase = x_pages[(first / PAGE) * LAYERS + LAYER] + ch * (1u + K_GROUP_WORDS[LAYER]);
  x_pool[gbase] = scale_bits | (zero_bits << 16u);
  var word = 0u;
  var at = gbase + 1u;
  var used = 0u;
  for (var t = 0u; t < PAGE; t++) {
    var code = 0u;
    if (scale > 0.0) { code = round_code(k_ring(LAYER, first + t, ch), zero, scale, levels); }
    word |= code << used;
    if (used + bits >= 32u) {
      x_pool[at] = word;
      at++;
      word = select(0u, code >> (32u - used), used > 0u && used + bits > 32u);
      used = used + bits - 32u;
    } else {
      used += bits;
    }
  }
  if (used > 0u) { x_pool[at] = word; }
}
