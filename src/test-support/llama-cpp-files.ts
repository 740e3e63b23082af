// Files of llama.cpp that tests read as oracles, never copied into this repository: its vocabulary-only GGUFs with
// the ids its own tokenizer test expects (`ggml-vocab-*.gguf`, `.inp`, `.out`) and the chat templates it tests
// (`models/templates/*.jinja`). They come from the npm package node-llama-cpp, which ships llama.cpp's source as a
// git bundle: `npm run fixtures` (part of `npm test`) fetches that exact tarball, checks its hash, and writes the
// files below into .cache/ (ignored by git).

import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { readGgufHeader, type GgufValue } from '../model/gguf';
import { NodeFolderSource } from '../model/node-file-source';
import { ggufTokenizerFiles } from '../tokenizer/gguf-tokenizer';
import { TextTokenizer } from '../tokenizer/tokenizer';

export const LLAMA_CPP_SOURCE = {
  npm: 'node-llama-cpp@3.22.1',
  integrity: 'sha512-bltIipuWmc123H7tMIgDGKSsSrhmhlQYeVUC48XTjVW7XGJJiJJyCdlTMzQ/LiWoPkGDpcL4FviDpgw7qfTiDw==',
  bundle: 'package/llama/gitRelease.bundle',
  commit: 'de3ff815ea7d559ee917f063901b8986f038abc6',
} as const;

/** The llama.cpp vocabularies tested here, by the family that uses them. */
export const LLAMA_CPP_VOCABS = {
  'phi-3': 'Phi-3 / Phi-3.5-mini (SentencePiece BPE, 32,064 tokens)',
  'llama-spm': 'Llama 2, Mistral 7B v0.1 (SentencePiece BPE, 32,000 tokens)',
  'llama-bpe': 'Llama 3 / 3.1 / 3.2 (byte-level BPE, 128,256 tokens)',
  qwen2: 'Qwen2, Qwen2.5, Qwen3 (byte-level BPE, 151,643 + added tokens)',
  'gpt-2': 'GPT-2 (byte-level BPE, 50,257 tokens)',
} as const;
export type LlamaCppVocab = keyof typeof LLAMA_CPP_VOCABS;

export const LLAMA_CPP_TEMPLATES = ['microsoft-Phi-3.5-mini-instruct', 'HuggingFaceTB-SmolLM3-3B', 'Qwen-Qwen3-0.6B'] as const;
export type LlamaCppTemplate = (typeof LLAMA_CPP_TEMPLATES)[number];

/** Every file `npm run fixtures` writes, relative to llama.cpp's root. */
export const LLAMA_CPP_FILES: readonly string[] = [
  ...Object.keys(LLAMA_CPP_VOCABS).flatMap((v) => [`models/ggml-vocab-${v}.gguf`, `models/ggml-vocab-${v}.gguf.inp`, `models/ggml-vocab-${v}.gguf.out`]),
  ...LLAMA_CPP_TEMPLATES.map((t) => `models/templates/${t}.jinja`),
];

export const LLAMA_CPP_DIR = resolve(import.meta.dirname, `../../.cache/llama.cpp-${LLAMA_CPP_SOURCE.commit.slice(0, 10)}`);

/** A fetched llama.cpp file's path; a missing one fails with how to get it. */
export function llamaCppPath(rel: string): string {
  const p = resolve(LLAMA_CPP_DIR, rel);
  if (!existsSync(p)) throw new Error(`test data missing: ${p} (run \`npm run fixtures\`: it fetches ${LLAMA_CPP_SOURCE.npm} from npm)`);
  return p;
}

export function llamaCppTemplate(name: LlamaCppTemplate): string {
  return readFileSync(llamaCppPath(`models/templates/${name}.jinja`), 'utf8');
}

/**
 * llama.cpp's tokenizer test cases for a vocabulary: each input text and the ids llama.cpp gives it (no BOS, no
 * special-token parsing). The .inp file separates texts with a line "__ggml_vocab_test__"; the .out file has one
 * line of space-separated ids per text.
 */
export function llamaCppTokenizerCases(vocab: LlamaCppVocab): { text: string; ids: number[] }[] {
  const texts = readFileSync(llamaCppPath(`models/ggml-vocab-${vocab}.gguf.inp`), 'utf8').split('\n__ggml_vocab_test__\n');
  const lines = readFileSync(llamaCppPath(`models/ggml-vocab-${vocab}.gguf.out`), 'utf8').split('\n');
  if (texts.at(-1) === '') texts.pop();
  if (lines.at(-1) === '') lines.pop();
  if (texts.length !== lines.length) throw new Error(`ggml-vocab-${vocab}: ${texts.length} texts but ${lines.length} id lines`);
  return texts.map((text, i) => ({ text, ids: lines[i].trim() === '' ? [] : lines[i].trim().split(/\s+/).map(Number) }));
}

/** The engine's tokenizer for one of llama.cpp's vocabulary GGUFs, with `changes` to its metadata (a chat template, a name). */
export async function llamaCppVocabTokenizer(vocab: LlamaCppVocab, changes: Record<string, GgufValue> = {}): Promise<TextTokenizer> {
  const file = `ggml-vocab-${vocab}.gguf`;
  llamaCppPath(`models/${file}`);
  const { metadata } = await readGgufHeader(new NodeFolderSource(`${LLAMA_CPP_DIR}/models`), file);
  const files = ggufTokenizerFiles(new Map([...metadata, ...Object.entries(changes)]), file);
  return TextTokenizer.fromJson(files.tokenizer, files.tokenizerConfig, file);
}
