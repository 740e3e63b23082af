// Logit processors before the token choice (src/engine/sampling.ts adjustLogits, the reference): for each
// token, the repetition penalty (Hugging Face's: divide a positive logit, multiply a negative one, for tokens
// of the prompt or the reply), the logit bias, then the frequency and presence penalties (OpenAI's: per
// occurrence, and once, in the reply so far). In place on logits row 0. One invocation per token.
// Constants: V.

@group(0) @binding(1) var<storage, read_write> logits: array<f32>;
// counts[t]: occurrences of token t in the reply so far; counts[V + t]: in the prompt.
@group(0) @binding(2) var<storage, read> counts: array<u32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<uniform> penalties: vec4<f32>; // frequency, presence, repetition, unused

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = flat_id(gid, nwg);
  if (t >= V) { return; }
  let reply = counts[t];
  var z = logits[t];
  if (reply + counts[V + t] > 0u) { z = select(z * penalties.z, z / penalties.z, z > 0.0); }
  z += bias[t];
  z -= penalties.x * f32(reply) + select(0.0, penalties.y, reply > 0u);
  logits[t] = z;
}
