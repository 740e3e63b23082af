// The tiled-family GEMV's dot for the GGUF block formats (after a weights-<format>.wgsl of one): block q of
// a row is 32 weights, w8 chunks 4q .. 4q + 3, so BLOCK_VEC4 is 8 as for q4. T4 as in weights-q4-vec4.wgsl;
// the products run in f32.

fn w_dot(row: u32, q: u32, xs: array<T4, BLOCK_VEC4>) -> f32 {
  let c0 = w8(row, 4u * q);
  let c1 = w8(row, 4u * q + 1u);
  let c2 = w8(row, 4u * q + 2u);
  let c3 = w8(row, 4u * q + 3u);
  return dot(c0.a, vec4<f32>(xs[0])) + dot(c0.b, vec4<f32>(xs[1])) + dot(c1.a, vec4<f32>(xs[2])) + dot(c1.b, vec4<f32>(xs[3]))
    + dot(c2.a, vec4<f32>(xs[4])) + dot(c2.b, vec4<f32>(xs[5])) + dot(c3.a, vec4<f32>(xs[6])) + dot(c3.b, vec4<f32>(xs[7]));
}
