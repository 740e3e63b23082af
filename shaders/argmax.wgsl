// Greedy choice on the GPU: the index of the largest logit of row 0 (lowest index on ties), so only one
// u32 is read back. One workgroup; each invocation scans a strided slice, then a tree reduction.
// Constants: V (vocabulary size).

@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> chosen: array<u32>;

const N: u32 = 256u;
var<workgroup> best_v: array<f32, N>;
var<workgroup> best_i: array<u32, N>;

@compute @workgroup_size(N)
fn main(@builtin(local_invocation_index) lid: u32) {
  var bv = -3.4e38;
  var bi = 0xffffffffu;
  for (var i = lid; i < V; i += N) {
    if (logits[i] > bv) { bv = logits[i]; bi = i; }
  }
  best_v[lid] = bv;
  best_i[lid] = bi;
  workgroupBarrier();
  for (var width = N / 2u; width > 0u; width >>= 1u) {
    if (lid < width) {
      let ov = best_v[lid + width];
      let oi = best_i[lid + width];
      if (ov > best_v[lid] || (ov == best_v[lid] && oi < best_i[lid])) { best_v[lid] = ov; best_i[lid] = oi; }
    }
    workgroupBarrier();
  }
  if (lid == 0u) { chosen[0] = best_i[0]; }
}
