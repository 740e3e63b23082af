// One call that turns a model folder into everything the decoders need.

import { TextTokenizer } from '../tokenizer/tokenizer';
import type { ModelFileSource } from './file-source';
import { readText } from './file-source';
import { MissingFileError } from '../errors';
import { parseModelConfig, type ModelSpec } from './model-spec';
import { loadModelWeights, type ModelWeights } from './weights';

/** The model's text files, kept as read so the weight cache can store them beside the weights. */
export interface ModelTexts {
  config: string;
  tokenizer: string;
  /** '{}' when the folder has no tokenizer_config.json. */
  tokenizerConfig: string;
}

export interface LoadedModel {
  name: string;
  spec: ModelSpec;
  weights: ModelWeights;
  tokenizer: TextTokenizer;
  texts: ModelTexts;
}

export async function readModelTexts(source: ModelFileSource): Promise<ModelTexts> {
  if (!(await source.has('config.json'))) throw new MissingFileError(`${source.name}/config.json`);
  const config = await readText(source, 'config.json');
  parseModelConfig(config, `${source.name}/config.json`); // a bad config fails before anything else is fetched
  if (!(await source.has('tokenizer.json'))) throw new MissingFileError(`${source.name}/tokenizer.json`, 'tokenizer.json is required');
  const tokenizer = await readText(source, 'tokenizer.json');
  const tokenizerConfig = (await source.has('tokenizer_config.json')) ? await readText(source, 'tokenizer_config.json') : '{}';
  return { config, tokenizer, tokenizerConfig };
}

/** Spec and tokenizer from the text files; `where` names the folder in errors. */
export function parseModelTexts(texts: ModelTexts, where: string): { spec: ModelSpec; tokenizer: TextTokenizer } {
  const spec = parseModelConfig(texts.config, `${where}/config.json`);
  return { spec, tokenizer: TextTokenizer.fromJson(texts.tokenizer, texts.tokenizerConfig, where) };
}

export async function loadModel(source: ModelFileSource): Promise<LoadedModel> {
  const texts = await readModelTexts(source);
  const { spec, tokenizer } = parseModelTexts(texts, source.name);
  const weights = await loadModelWeights(spec, source);
  return { name: source.name, spec, weights, tokenizer, texts };
}
