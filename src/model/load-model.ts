// One call that turns a model folder into everything the decoders need.

import { TextTokenizer } from '../tokenizer/tokenizer';
import type { ModelFileSource } from './file-source';
import { readText } from './file-source';
import { MissingFileError } from '../errors';
import { parseModelConfig, type ModelSpec } from './model-spec';
import { loadModelWeights, type ModelWeights } from './weights';

export interface LoadedModel {
  name: string;
  spec: ModelSpec;
  weights: ModelWeights;
  tokenizer: TextTokenizer;
}

export async function loadModel(source: ModelFileSource): Promise<LoadedModel> {
  if (!(await source.has('config.json'))) throw new MissingFileError(`${source.name}/config.json`);
  const spec = parseModelConfig(await readText(source, 'config.json'), `${source.name}/config.json`);
  const tokenizer = await TextTokenizer.fromSource(source);
  const weights = await loadModelWeights(spec, source);
  return { name: source.name, spec, weights, tokenizer };
}
