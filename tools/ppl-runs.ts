// The perplexity runs of BENCHMARKS.md: models, texts and windows of the protocol of
// shared/models/README.md, and the cache modes measured on each.

export const RUNS = [
  { model: '../shared/models/stories260K', text: '../shared/text/tinystories-valid-head.txt', ctx: 512, windows: 32 },
  { model: '../shared/models/aidreams260K', text: '../shared/text/tinystories-valid-head.txt', ctx: 128, windows: 64 },
  { model: '../shared/models/tinystories-656k', text: '../shared/text/tinystories-valid-head.txt', ctx: 512, windows: 32 },
];

export function modesFor(gqa: boolean): string[] {
  const out = ['f32', 'fp16', 'xquant-8'];
  for (const b of [4, 3, 2]) {
    out.push(`kivi-${b}`, `xquant-${b}`, `xquant-cl-${b}`);
    if (gqa) out.push(`xquant-gqa-${b}`);
  }
  return out;
}
