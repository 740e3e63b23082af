// A constraint's token mask before the choice (src/engine/sampling.ts maskLogits, the reference): a token
// whose bit is clear gets the logit -3e38 (MASKED_LOGIT), which sampling never keeps (KEEP_FLOOR) and argmax
// never picks while any token is allowed. In place on logits row 0. One invocation per token. Constants: V.

@group(0) @binding(1) var<storage, read_write> logits: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<u32>; // bit t % 32 of word t / 32: token t is allowed

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_id(gid, nwg);
  if (t >= V) { return; }
  if (((mask[t >> 5u] >> (t & 31u)) & 1u) == 0u) { logits[t] = -3.0e38; }
}
