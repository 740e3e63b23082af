// Context shift, kivi / xquant-gqa: the K side of the tokens that fill positions [cut.first, cut.new_len) once
// tokens [cut.lo, cut.hi) are dropped (position p holds token p below cut.lo, token p + cut.hi - cut.lo from there),
// read as the cache holds it (a committed block dequantized, or the f16 ring) into f32 rows
// out[(p - cut.first) * KW + channel]; k-block-reform.wgsl stores them at their new positions. One invocation per
// (position, channel). Constants: KW, plus the store prefixes'.

struct Cut { first: u32, lo: u32, hi: u32, old_len: u32, new_len: u32 }

@group(0) @binding(1) var<storage, read> x_pages: array<u32>;
@group(0) @binding(2) var<storage, read> x_pool: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> layer_params: LayerParams;
@group(0) @binding(5) var<uniform> cut: Cut;
fn layer() -> u32 { return layer_params.index; }

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = flat_id(gid, nwg);
  let ch = id % KW;
  let p = cut.first + id / KW;
  if (p >= cut.new_len) { return; }
  let t = select(p, p + cut.hi - cut.lo, p >= cut.lo);
  let l = layer();
  if (t >= ((max(cut.old_len, RESIDUAL) - RESIDUAL) / PAGE) * PAGE) {
    out[id] = k_ring(l, t, ch);
  } else {
    out[id] = group_elem(x_pages[(t / PAGE) * LAYERS + l] + ch * (1u + K_GROUP_WORDS[l]), t % PAGE, LAYER_BITS[l]);
  }
}
