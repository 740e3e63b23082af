// Embedding gather: h[m, :] = E[ids[m], :] for the step's tokens, from a packed weight matrix (any format;
// w8 comes from the weights-*.wgsl prefix). A table too large for one binding comes in row parts, one
// dispatch each; a part gathers only the ids it holds. One invocation per 8 columns of one token.
// Constants: D (hidden size), H_STRIDE (activation row stride), W_ROW_WORDS, W_SCALE_WORDS, SCALE (Gemma's √D, else 1).

struct Part { rows: u32, row_offset: u32, _a: u32, _b: u32 }

@group(0) @binding(1) var<uniform> part: Part;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read> w: array<u32>;
@group(0) @binding(4) var<storage, read> ws: array<u32>;
@group(0) @binding(5) var<storage, read_write> h: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = flat_id(gid, nwg);
  let per_token = (D + 7u) / 8u;
  let m = id / per_token;
  let j = id % per_token;
  if (m >= step.tokens) { return; }
  let token = ids[m];
  if (token < part.row_offset || token >= part.row_offset + part.rows) { return; }
  let v = w8(token - part.row_offset, j);
  let vals = array<f32, 8>(v.a.x, v.a.y, v.a.z, v.a.w, v.b.x, v.b.y, v.b.z, v.b.w);
  for (var i = 0u; i < 8u; i++) {
    let c = 8u * j + i;
    if (c < D) { h[m * H_STRIDE + c] = vals[i] * SCALE; }
  }
}
