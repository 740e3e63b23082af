// The activation chunk a gpu-class GEMV reads, with the RMSNorm before it fused in (NORM): chunk j of a
// token's x (values 8j .. 8j + 7) scaled by gamma as it is loaded, and its share of Σx², which the kernel
// sums with its rows and turns into 1/rms with norm_scale. x's padding columns are zero, so they add nothing.
// The op declares `x` and `gamma`. Constants: NORM, NORM_D, EPS.

struct X8 { a: vec4<f32>, b: vec4<f32>, sq: f32 }

fn x8(xbase: u32, j: u32) -> X8 {
  var xa = x[xbase + 2u * j];
  var xb = x[xbase + 2u * j + 1u];
  var sq = 0.0;
  if (NORM) {
    sq = dot(xa, xa) + dot(xb, xb);
    xa *= gamma[2u * j];
    xb *= gamma[2u * j + 1u];
  }
  return X8(xa, xb, sq);
}

/** 1 / sqrt(mean(x²) + EPS) from the workgroup's Σx² (1 without NORM). */
fn norm_scale(sum_sq: f32) -> f32 {
  if (!NORM) { return 1.0; }
  return inverseSqrt(sum_sq / f32(NORM_D) + EPS);
}
