// Encode text files with the project's tokenizer stack (the one the engine uses), check that decoding
// gives back every file exactly, and write the ids as little-endian uint16 for training.
// Usage: tsx tools/train/encode-corpus.ts TOKENIZER_DIR OUT.bin FILE...   (files are joined, each ending in </s>)

import { readFileSync, writeFileSync } from 'node:fs';
import { TextTokenizer } from '../../src/tokenizer/tokenizer';

const [dir, out, ...files] = process.argv.slice(2);
if (!dir || !out || files.length === 0) {
  console.error('usage: tsx tools/train/encode-corpus.ts TOKENIZER_DIR OUT.bin FILE...');
  process.exit(2);
}
const tok = TextTokenizer.fromJson(readFileSync(`${dir}/tokenizer.json`, 'utf8'), readFileSync(`${dir}/tokenizer_config.json`, 'utf8'), dir);
const EOS = 2;
const all: number[] = [];
for (const f of files) {
  const text = readFileSync(f, 'utf8');
  const ids = tok.encode(text, false);
  const back = tok.decode(ids);
  if (back !== text) {
    let i = 0;
    while (i < text.length && text[i] === back[i]) i++;
    throw new Error(`${f}: decode(encode(text)) differs from the text at character ${i}`);
  }
  console.log(`${f}: ${text.length} characters -> ${ids.length} tokens (${(text.length / ids.length).toFixed(2)} chars/token), round trip exact`);
  for (const id of ids) all.push(id);
  all.push(EOS);
}
writeFileSync(out, Buffer.from(Uint16Array.from(all).buffer));
console.log(`${out}: ${all.length} tokens`);
