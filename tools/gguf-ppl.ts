// npm run -s gguf-ppl [-- --out FILE]: what a GGUF file's quantization costs in perplexity. Each shared model
// and the default model is written as GGUF in each type (src/test-support/gguf-writer.ts, laid out as
// llama.cpp lays it out; K-quant rows that are not whole 256-blocks fall back as llama.cpp does) and run on
// the reference decoder with the weights the engine would upload for the chosen format, against the same
// folder in f32 and in the engine's own q8 / q4 (same text, same windows, one run), with the weight bytes the
// GPU would hold for each.

import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseCacheMode } from '../src/cache/cache-config';
import { ReferenceBackend } from '../src/reference/backend';
import { evaluatePerplexity } from '../src/eval/perplexity';
import { MemoryFileSource, readText } from '../src/model/file-source';
import { GgufModelSource } from '../src/model/gguf-model';
import { NodeFolderSource } from '../src/model/node-file-source';
import type { TensorEncoding } from '../src/model/tensor-encoding';
import { openCheckpoint } from '../src/model/checkpoint';
import type { ModelFileSource } from '../src/model/file-source';
import { parseModelConfig, type ModelSpec } from '../src/model/model-spec';
import { checkpointStream, loadModelAs } from '../src/quant/pack-checkpoint';
import type { WeightFormat } from '../src/quant/weight-format';
import { hfToGguf, kQuantMix } from '../src/test-support/gguf-writer';
import { sharedPath, sharedText } from '../src/test-support/shared-models';
import { runCli } from './cli-args';

const MODELS = [
  { name: 'stories260K', dir: () => sharedPath('models/stories260K'), ctx: 256, windows: 64 },
  { name: 'tinystories-656k', dir: () => sharedPath('models/tinystories-656k'), ctx: 256, windows: 32 },
  { name: 'austen-3m', dir: () => resolve(import.meta.dirname, '../public/models/austen-3m'), ctx: 256, windows: 16 },
];
/** A file in one type, or llama.cpp's Q4_K_M mix (Q4_K, Q6_K for attn_v / ffn_down of some layers and the output). */
type File = TensorEncoding | 'folder' | 'Q4_K_M';
const RUNS: [File, WeightFormat][] = [
  ['folder', 'f32'],
  ['folder', 'q8'],
  ['folder', 'q4'],
  ['F16', 'f16'],
  ['Q8_0', 'q8'],
  ['Q6_K', 'q8'],
  ['Q5_K', 'q8'],
  ['Q4_K', 'q8'],
  ['Q4_K', 'q4'],
  ['Q4_0', 'q4'],
  // As stored (weights: 'native', the default for a .gguf): no second rounding, the file's bytes on the GPU.
  ['Q4_K_M', 'native'],
  ['Q4_K_M', 'q8'],
  ['Q4_K_M', 'q4'],
  ['Q6_K', 'native'],
  ['Q5_K', 'native'],
  ['Q4_K', 'native'],
  ['IQ4_XS', 'native'],
  ['Q3_K', 'native'],
  ['Q2_K', 'native'],
];

/** Bytes the GPU would hold for the model's weights in `format` (packed matrices with their scales, f32 vectors). */
async function uploadBytes(source: ModelFileSource, spec: ModelSpec, format: WeightFormat): Promise<number> {
  let bytes = 0;
  await checkpointStream(spec, await openCheckpoint(source), format).run({
    put: (b) => {
      bytes += b.data.byteLength + (b.kind === 'matrix' ? (b.scales?.byteLength ?? 0) : 0);
    },
  });
  return bytes;
}

await runCli('npm run -s gguf-ppl [-- --out FILE] [--models a,b] [--runs FILE:WEIGHTS,...]', async () => {
  const rows: Record<string, unknown>[] = [];
  const text = sharedText('tinystories-valid-head.txt');
  const list = (flag: string) => {
    const i = process.argv.indexOf(flag);
    return i > 0 ? process.argv[i + 1].split(',') : null;
  };
  const models = list('--models');
  const runs = list('--runs');
  for (const m of MODELS.filter((x) => !models || models.includes(x.name))) {
    let base = 0;
    // The folder in f32 always runs first: every row's vsF32 is against it.
    for (const [enc, format] of RUNS.filter(([e, f], i) => i === 0 || !runs || runs.includes(`${e}:${f}`))) {
      const folder = new NodeFolderSource(m.dir());
      const written = async () => {
        const spec = parseModelConfig(await readText(folder, 'config.json'), `${m.dir()}/config.json`);
        const o = enc === 'Q4_K_M' ? { encoding: 'Q4_K' as const, perTensor: kQuantMix('Q4_K', spec.numLayers) } : { encoding: enc as TensorEncoding };
        return new GgufModelSource(new MemoryFileSource('written', new Map([['m.gguf', (await hfToGguf(folder, o)).buffer as ArrayBuffer]])), 'm.gguf');
      };
      const source = enc === 'folder' ? folder : await written();
      const model = await loadModelAs(source, format);
      const ids = model.tokenizer.encode(text);
      const r = await evaluatePerplexity(new ReferenceBackend(model), ids, {
        ctx: m.ctx,
        windows: m.windows,
        bos: model.spec.bosTokenId ?? 1,
        cache: parseCacheMode('f32'),
      });
      if (enc === 'folder' && format === 'f32') base = r.ppl;
      const row = {
        model: m.name,
        file: enc === 'folder' ? 'HF folder' : `GGUF ${enc}`,
        weights: format,
        weightBytes: await uploadBytes(source, model.spec, format),
        ctx: m.ctx,
        windows: m.windows,
        scoredTokens: r.scoredTokens,
        ppl: Number(r.ppl.toFixed(4)),
        vsF32: Number((r.ppl / base).toFixed(4)),
      };
      rows.push(row);
      console.error(JSON.stringify(row));
    }
  }
  const out = JSON.stringify({ date: new Date().toISOString(), rows }, null, 1);
  const file = process.argv.indexOf('--out');
  if (file > 0) writeFileSync(process.argv[file + 1], `${out}\n`);
  process.stdout.write(`${out}\n`);
});
