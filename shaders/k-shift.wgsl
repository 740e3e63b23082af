// Context shift (llama.cpp's K-shift): rows [step.pos0, step.pos0 + step.tokens) of one layer's K pool, stored after
// RoPE, turned back by the shift so they read as keys at their new, earlier positions. RoPE turns each (i, i + HALF)
// pair by pos * inv_freq[i], and turns compose, so R(p - s) = R(-s) R(p): the table holds (cos, sin) of
// -s * inv_freq[i]. One invocation per (row, kv head) owns the head's words, so f16 pairs are never written twice.
// Constants: HALF (head_dim / 2), KV_HEADS, KV_F16 (f16 pairs packed in u32, else f32 bits).

@group(0) @binding(1) var<storage, read_write> pool: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<vec2<f32>>;

fn load(e: u32) -> f32 {
  if (KV_F16) {
    let w = pool[e / 2u];
    return f16_value(select(w & 0xffffu, w >> 16u, (e & 1u) == 1u));
  }
  return bitcast<f32>(pool[e]);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = flat_id(gid, nwg);
  let head = id % KV_HEADS;
  let row = id / KV_HEADS;
  if (row >= step.tokens) { return; }
  let base = ((step.pos0 + row) * KV_HEADS + head) * 2u * HALF;
  var v: array<f32, 2u * HALF>;
  for (var i = 0u; i < HALF; i++) {
    let cs = table[i];
    let x0 = load(base + i);
    let x1 = load(base + i + HALF);
    v[i] = x0 * cs.x - x1 * cs.y;
    v[i + HALF] = x1 * cs.x + x0 * cs.y;
  }
  for (var j = 0u; j < 2u * HALF; j += 2u) {
    if (KV_F16) {
      pool[(base + j) / 2u] = pack_f16(v[j], v[j + 1u]);
    } else {
      pool[base + j] = bitcast<u32>(v[j]);
      pool[base + j + 1u] = bitcast<u32>(v[j + 1u]);
    }
  }
}
