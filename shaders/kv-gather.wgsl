// Prefill in a tiered cache: copy the hot tier's fp16 K/V of tokens first_key .. pos0-1 (a ring of pages)
// into the transient rows that xquant-remat.wgsl fills for older tokens, so the prompt slice attends to one
// dense pool. f16 values widen to f32 exactly (or stay f16 pairs, OUT_F16).
// Constants: KV_DIM, PAGE, OUT_F16.

@group(0) @binding(1) var<storage, read> pages: array<u32>;
@group(0) @binding(2) var<storage, read> k_pool: array<u32>;
@group(0) @binding(3) var<storage, read> v_pool: array<u32>;
@group(0) @binding(4) var<storage, read_write> out_k: array<u32>;
@group(0) @binding(5) var<storage, read_write> out_v: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = flat_id(gid, nwg);
  let pairs = KV_DIM / 2u;
  let t = step.first_key + id / pairs;
  let e = id % pairs;
  if (t >= step.pos0) { return; }
  let src = (pages[t / PAGE] * PAGE + t % PAGE) * pairs + e;
  if (OUT_F16) {
    out_k[t * pairs + e] = k_pool[src];
    out_v[t * pairs + e] = v_pool[src];
  } else {
    let k = k_pool[src];
    let v = v_pool[src];
    let dst = t * KV_DIM + 2u * e;
    out_k[dst] = bitcast<u32>(f16_value(k & 0xffffu));
    out_k[dst + 1u] = bitcast<u32>(f16_value(k >> 16u));
    out_v[dst] = bitcast<u32>(f16_value(v & 0xffffu));
    out_v[dst + 1u] = bitcast<u32>(f16_value(v >> 16u));
  }
}
