// Constrained decoding and log-probabilities on the GPU (the mask applied by shaders/logit-mask.wgsl before
// argmax or the sampling kernel; the raw logits copied out for logprobs) against the reference sampler.

import { afterAll, describe, expect, it } from 'vitest';
import { parseCacheMode } from '../cache/cache-config';
import { generateIds } from '../engine/generate';
import { Sampler, type SamplingOptions } from '../engine/sampling';
import { ConstraintCache, type ConstraintSpec, vocabularyFromTexts } from '../grammar/constraint';
import { ReferenceBackend } from '../reference/backend';
import type { Backend } from '../engine/backend';
import { sharedModel } from '../test-support/shared-models';
import { OBJECT_SCHEMAS } from '../test-support/test-schemas';
import { WebGpuBackend } from './backend';
import { nodeGpu, nodeShaders } from './node-gpu';

const m = await sharedModel('stories260K');
const gpu = await WebGpuBackend.create(nodeGpu(), nodeShaders(), m, { weights: 'f32', maxBatch: 64, kernels: 'auto', subgroups: true });
afterAll(() => gpu.destroy());
const reference = new ReferenceBackend(m);
const constraints = new ConstraintCache(vocabularyFromTexts(m.tokenizer.tokenTexts(), m.spec.vocabSize, m.spec.eosTokenIds), m.spec.eosTokenIds);
const PROMPT = [1, 403, 407];

function run(backend: Backend, spec: ConstraintSpec, sampling: SamplingOptions, cache = 'f32'): Promise<number[]> {
  return generateIds(backend, PROMPT, {
    maxTokens: 300,
    cache: parseCacheMode(cache),
    sampling,
    stopIds: m.spec.eosTokenIds,
    constraint: constraints.start(spec),
  });
}

const SPECS: [string, ConstraintSpec][] = [
  ['person schema', { type: 'json_schema', schema: OBJECT_SCHEMAS.person }],
  ['order schema', { type: 'json_schema', schema: OBJECT_SCHEMAS.order }],
  ['json_object', { type: 'json_object' }],
  ['GBNF', { type: 'grammar', grammar: 'root ::= "The " [a-z]+ (" " [a-z]+){2,6} "."' }],
  ['regex', { type: 'regex', regex: '(yes|no), [0-9]{1,3} (cats|dogs)' }],
];

describe('constrained decoding on the GPU', () => {
  it.each(SPECS)('%s: greedy output equals the reference backend, and follows the constraint', async (_, spec) => {
    const greedy = { temperature: 0, topK: 0, topP: 1, seed: 0 };
    const g = await run(gpu, spec, greedy);
    const r = await run(reference, spec, greedy);
    expect(g).toEqual(r);
    expect(g.length).toBeGreaterThan(3);
    if (spec.type === 'json_schema' || spec.type === 'json_object') expect(() => JSON.parse(m.tokenizer.decode(g))).not.toThrow();
  });

  it.each(SPECS)('%s: sampled at temperature 1.5 with top-k 50 and penalties, the GPU picks what the reference picks', async (_, spec) => {
    const sampling: SamplingOptions = {
      temperature: 1.5,
      topK: 50,
      topP: 0.95,
      seed: 11,
      penalties: { frequency: 0.3, presence: 0, repetition: 1.1, bias: new Map([[261, 5]]) },
    };
    expect(await run(gpu, spec, sampling)).toEqual(await run(reference, spec, sampling));
  });

  it('in a quantized cache mode (xquant-4) the constrained greedy output stays valid JSON', async () => {
    const ids = await run(gpu, { type: 'json_schema', schema: OBJECT_SCHEMAS.settings }, { temperature: 0, topK: 0, topP: 1, seed: 0 }, 'xquant-4');
    expect(() => JSON.parse(m.tokenizer.decode(ids))).not.toThrow();
  });
});

describe('log-probabilities on the GPU', () => {
  it('each chosen token: the log-softmax of the raw logits the GPU read back, within 1e-4 of the reference', async () => {
    const sampling: SamplingOptions = { temperature: 0.9, topK: 0, topP: 1, seed: 4 };
    const record = async (b: Backend) => {
      const s = new Sampler(sampling, PROMPT, null, 5);
      const session = b.createSession(parseCacheMode('f32'));
      const ids = [await session.next(PROMPT, s)];
      for await (const id of session.decodeIds(ids[0], s, 15)) ids.push(id);
      session.close();
      return { ids, logprobs: s.logprobs };
    };
    const g = await record(gpu);
    const r = await record(reference);
    expect(g.ids).toEqual(r.ids);
    expect(g.logprobs.length).toBe(16);
    for (const [i, e] of g.logprobs.entries()) {
      expect(e.id).toBe(g.ids[i]);
      expect(Math.abs(e.logprob - r.logprobs[i].logprob)).toBeLessThan(1e-4);
      expect(e.top.map((t) => t.id)).toEqual(r.logprobs[i].top.map((t) => t.id));
      expect(e.top[0].logprob).toBeGreaterThanOrEqual(e.logprob - 1e-9);
    }
  });
});
