import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parseCacheMode } from '../cache/cache-config';
import { ConstraintCache, type ConstraintSpec, vocabularyFromTexts } from '../grammar/constraint';
import { ReferenceBackend } from '../reference/backend';
import { type SharedModel, sharedModel } from '../test-support/shared-models';
import { OBJECT_SCHEMAS, VALUE_SCHEMAS } from '../test-support/test-schemas';
import { generateIds } from './generate';

const SAMPLES = 100;

/** Sampled constrained replies: each must parse and validate, and end by the grammar (not by max tokens). */
async function sampleUnder(name: SharedModel, schemas: Record<string, unknown>, prompt: string) {
  const model = await sharedModel(name);
  const backend = new ReferenceBackend(model);
  const cache = new ConstraintCache(vocabularyFromTexts(model.tokenizer.tokenTexts(), model.spec.vocabSize, model.spec.eosTokenIds), model.spec.eosTokenIds);
  const ajv = new Ajv({ strict: false });
  addFormats(ajv);
  const promptIds = model.tokenizer.encode(prompt, true);
  const failures: string[] = [];
  let tokens = 0;
  for (const [key, schema] of Object.entries(schemas)) {
    const validate = ajv.compile(schema as object);
    const spec: ConstraintSpec = { type: 'json_schema', schema };
    for (let i = 0; i < SAMPLES; i++) {
      const constraint = cache.start(spec);
      const ids = await generateIds(backend, promptIds, {
        maxTokens: 400,
        cache: parseCacheMode('f32'),
        sampling: { temperature: 1.5, topK: 0, topP: 1, seed: 1000 + i },
        stopIds: model.spec.eosTokenIds,
        constraint,
      });
      tokens += ids.length;
      const text = model.tokenizer.decode(ids.filter((id) => !model.spec.eosTokenIds.includes(id)));
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        failures.push(`${key}#${i}: does not parse: ${text}`);
        continue;
      }
      if (!constraint.done && !constraint.complete) failures.push(`${key}#${i}: ended before the grammar did`);
      if (!validate(value)) failures.push(`${key}#${i}: ${ajv.errorsText(validate.errors)}: ${text}`);
    }
  }
  return { failures, tokens };
}

describe('constrained generation', () => {
  it('100 samples at temperature 1.5 from stories260K under 6 object schemas all parse and validate', async () => {
    const { failures, tokens } = await sampleUnder('stories260K', OBJECT_SCHEMAS, 'Once upon a time');
    expect(failures).toEqual([]);
    expect(tokens).toBeGreaterThan(6 * SAMPLES * 5);
  }, 600_000);

  it('100 samples at temperature 1.5 from tinystories-656k under 7 value schemas all parse and validate', async () => {
    const { failures } = await sampleUnder('tinystories-656k', VALUE_SCHEMAS, 'Once upon a time');
    expect(failures).toEqual([]);
  }, 600_000);
});
