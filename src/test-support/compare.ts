// Comparing logits in tests.

/** Largest |a[i] - b[i]|; arrays of different lengths are an error, not a small difference. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`compared arrays differ in length: ${a.length} vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** Every position's logits ([T × V], flat) against an oracle's rows: the largest |difference| and the largest |oracle logit|. */
export function diffToRows(got: Float32Array, want: readonly Float64Array[]): { abs: number; scale: number; relative: number } {
  const vocab = want[0].length;
  if (got.length !== want.length * vocab) throw new Error(`compared logits differ in length: ${got.length} vs ${want.length} × ${vocab}`);
  let abs = 0;
  let scale = 0;
  want.forEach((row, t) =>
    row.forEach((v, i) => {
      abs = Math.max(abs, Math.abs(v - got[t * vocab + i]));
      scale = Math.max(scale, Math.abs(v));
    }),
  );
  return { abs, scale, relative: abs / scale };
}
