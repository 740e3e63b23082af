// The pools of attention-split.wgsl writable, with APPEND: the step's K and V enter the paged cache in
// the attention dispatch itself (fp16 pairs packed in u32 when KV_F16, else f32 bits).

@group(0) @binding(5) var<storage, read_write> k_pool: array<u32>;
@group(0) @binding(6) var<storage, read_write> v_pool: array<u32>;

/** Token m's K and V of the kv head at kv_off into its pool slot (APPEND). */
fn append_kv(m: u32, kv_off: u32) {
  let pos = step.pos0 + m;
  let slot = pages[pos / PAGE] * PAGE + pos % PAGE;
  let src = m * K_STRIDE + kv_off;
  if (KV_F16) {
    let dst = slot * (KV_DIM / 2u) + kv_off / 2u;
    for (var d = 0u; d < HEAD_DIM; d += 2u) {
      k_pool[dst + d / 2u] = pack_f16(k_cur[src + d], k_cur[src + d + 1u]);
      v_pool[dst + d / 2u] = pack_f16(v_cur[src + d], v_cur[src + d + 1u]);
    }
  } else {
    let dst = slot * KV_DIM + kv_off;
    for (var d = 0u; d < HEAD_DIM; d++) {
      k_pool[dst + d] = bitcast<u32>(k_cur[src + d]);
      v_pool[dst + d] = bitcast<u32>(v_cur[src + d]);
    }
  }
}
