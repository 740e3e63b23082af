// kivi / xquant-gqa: put the step's new K-side rows (pre-RoPE K, or the latent X·U_k) into the layer's
// f16 K ring (k-block-sources.wgsl), where they wait until their block is committed.
// One invocation per (token, pair of elements). Constants: KW, K_STRIDE, plus the prefixes'.

@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> x_pages: array<u32>;
@group(0) @binding(3) var<storage, read_write> x_pool: array<u32>;
@group(0) @binding(4) var<uniform> layer_params: LayerParams;
// The layer is a uniform, not a constant, so one pipeline serves every layer.
fn layer() -> u32 { return layer_params.index; }

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = flat_id(gid, nwg);
  let m = id / K_RING_ROW_WORDS;
  let p = id % K_RING_ROW_WORDS;
  if (m >= step.tokens) { return; }
  let t = step.pos0 + m;
  let i = 2u * p;
  let a = k[m * K_STRIDE + i];
  let b = select(0.0, k[m * K_STRIDE + i + 1u], i + 1u < KW);
  x_pool[K_RING_BASE + (t % K_RING) * K_RING_ROW_WORDS + p] = pack_f16(a, b);
}
