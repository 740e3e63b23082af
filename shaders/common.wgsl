// Prepended to every kernel (after the generated constants): the per-forward values every dispatch of a
// step shares, written once per forward, and the flat invocation index of 2-D dispatch grids (grids fold
// into y beyond 65535 workgroups).

struct Step {
  tokens: u32,      // new tokens in this forward (M)
  pos0: u32,        // absolute position of the first of them
  chunks: u32,      // attention: key chunks per query
  chunk_len: u32,   // attention: keys per chunk
  x_chunks: u32,    // rematerializing attention (xquant modes): chunks over the past tokens
  x_chunk_len: u32, // rematerializing attention: past tokens per chunk
  first_key: u32,   // quantized modes: first key of the standard attention (older ones are rematerialized)
  _pad: u32,
  rand: f32,        // sampling: uniform draw in [0, 1)
  inv_temp: f32,    // sampling: 1 / temperature
  top_k: u32,       // sampling: 0 = no cut
  top_p: f32,       // sampling: 1 = no cut
}

@group(0) @binding(0) var<uniform> step: Step;

const WG: u32 = 64u;

fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}
