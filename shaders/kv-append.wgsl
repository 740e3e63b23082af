// Writes the step's K and V (after RoPE) into the paged KV cache of one layer. Token at absolute
// position p lives in page table[p / PAGE], slot p % PAGE; a slot holds KV_DIM values, as f16 pairs
// packed in u32 when KV_F16 (no shader-f16 needed) or as f32.
// RING > 0 (the hot tier of a tiered cache): the pages form a ring of RING tokens, so only the step's
// last RING tokens are written (earlier ones would share their slots).
// Constants: KV_DIM, K_STRIDE (activation row stride of k and v), PAGE, KV_F16, RING.

@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> pages: array<u32>;
@group(0) @binding(4) var<storage, read_write> k_pool: array<u32>;
@group(0) @binding(5) var<storage, read_write> v_pool: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = flat_id(gid, nwg);
  let pairs = KV_DIM / 2u;
  let m = id / pairs;
  let e = 2u * (id % pairs);
  if (m >= step.tokens) { return; }
  if (RING > 0u && m + RING < step.tokens) { return; }
  let pos = step.pos0 + m;
  let slot = pages[pos / PAGE] * PAGE + pos % PAGE;
  let src = m * K_STRIDE + e;
  if (KV_F16) {
    let dst = slot * pairs + e / 2u;
    k_pool[dst] = pack_f16(k[src], k[src + 1u]);
    v_pool[dst] = pack_f16(v[src], v[src + 1u]);
  } else {
    let dst = slot * KV_DIM + e;
    k_pool[dst] = bitcast<u32>(k[src]);
    k_pool[dst + 1u] = bitcast<u32>(k[src + 1u]);
    v_pool[dst] = bitcast<u32>(v[src]);
    v_pool[dst + 1u] = bitcast<u32>(v[src + 1u]);
  }
}
