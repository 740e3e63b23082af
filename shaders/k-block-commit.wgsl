// kivi / xquant-gqa: quantize, per channel over PAGE tokens, every K block that this step completes (all
// its tokens older than the residual window), from the f16 K ring into the block's page
// (k-block-sources.wgsl layout). One invocation per (block, channel); the quantizer is the reference's
// (include/k-block-quantize.wgsl).
// Constants: KW, plus the prefixes'.

@group(0) @binding(1) var<storage, read> unused: array<f32>;
@group(0) @binding(2) var<storage, read> x_pages: array<u32>;
@group(0) @binding(3) var<storage, read_write> x_pool: array<u32>;
@group(0) @binding(4) var<uniform> layer_params: LayerParams;
// The layer is a uniform, not a constant, so one pipeline serves every layer.
fn layer() -> u32 { return layer_params.index; }

fn block_value(t: u32, ch: u32) -> f32 { return k_ring(layer(), t, ch); }

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = flat_id(gid, nwg);
  let ch = id % KW;
  let j = id / KW;
  let before = ((max(step.pos0, RESIDUAL) - RESIDUAL) / PAGE) * PAGE;
  let after = ((max(step.pos0 + step.tokens, RESIDUAL) - RESIDUAL) / PAGE) * PAGE;
  let first = before + j * PAGE;
  if (first >= after) { return; }
  quantize_block_channel(layer(), first, ch);
}
