// The activations a tiled-family GEMV lane reads for one 16-byte weight block, with the RMSNorm before the
// projection fused in (NORM): block q of a token's x (BLOCK_VEC4 vec4s: 32, 16, 8 or 4 values for q4, q8,
// f16, f32 weights) scaled by gamma as it is loaded, and its share of Σx², which the kernel sums with its
// rows and turns into 1/rms with norm_scale. x's padding columns are zero, so they add nothing. The block
// is handed on as T4 (vec4<f32>, or vec4<f16> with f16 math); Σx² is summed in f32 either way.
// The op declares `x`, `gamma` and T4. Constants: BLOCK_VEC4, NORM, NORM_D, EPS.

struct XBlock { v: array<T4, BLOCK_VEC4>, sq: f32 }

fn x_block(xbase: u32, q: u32) -> XBlock {
  var b: XBlock;
  for (var i = 0u; i < BLOCK_VEC4; i++) {
    var xv = x[xbase + q * BLOCK_VEC4 + i];
    if (NORM) {
      b.sq += dot(xv, xv);
      xv *= gamma[q * BLOCK_VEC4 + i];
    }
    b.v[i] = T4(xv);
  }
  return b;
}

/** 1 / sqrt(mean(x²) + EPS) from the workgroup's Σx² (1 without NORM). */
fn norm_scale(sum_sq: f32) -> f32 {
  if (!NORM) { return 1.0; }
  return inverseSqrt(sum_sq / f32(NORM_D) + EPS);
}
