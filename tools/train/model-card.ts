// Writes MODEL_CARD.md and loss-curve.svg for the trained default model, from the training log, the torch
// held-out evaluation (evaluate.py) and this project's own reference decoder, which re-scores the first
// held-out windows (a check on the export) and produces the greedy sample.
// Usage: tsx tools/train/model-card.ts WORK_DIR MODEL_DIR

import { readFileSync, writeFileSync } from 'node:fs';
import { parseCacheMode } from '../../src/cache/cache-config';
import { ReferenceBackend } from '../../src/reference/backend';
import { generateIds } from '../../src/engine/generate';
import { GREEDY } from '../../src/engine/sampling';
import { loadModel } from '../../src/model/load-model';
import { NodeFolderSource } from '../../src/model/node-file-source';
import { logSumExp } from '../../src/reference/ops';

export const SAMPLE_PROMPT = 'It was a fine morning, and';
export const SAMPLE_TOKENS = 64;

interface TrainLog {
  config: Record<string, number>;
  seed: number;
  batch: number;
  ctx: number;
  steps: number;
  tokens_seen: number;
  train_tokens: number;
  parameters: number;
  seconds: number;
  torch: string;
  log: { step: number; loss: number; seconds: number }[];
}

interface Evaluation {
  ctx: number;
  windows: number;
  scored_tokens: number;
  window_nll: number[];
  ppl_token: number;
  nll_sum: number;
  unigram_char_ppl: number;
}

function lossCurve(log: TrainLog['log']): string {
  const W = 640;
  const H = 320;
  const pad = 48;
  const maxStep = log[log.length - 1].step || 1;
  const losses = log.map((p) => p.loss);
  const lo = Math.floor(Math.min(...losses));
  const hi = Math.ceil(Math.max(...losses));
  const x = (s: number) => pad + ((W - 2 * pad) * s) / maxStep;
  const y = (l: number) => H - pad - ((H - 2 * pad) * (l - lo)) / (hi - lo);
  const path = log.map((p, i) => `${i ? 'L' : 'M'}${x(p.step).toFixed(1)},${y(p.loss).toFixed(1)}`).join(' ');
  const ticks = Array.from({ length: hi - lo + 1 }, (_, i) => lo + i)
    .map((l) => `<text x="${pad - 8}" y="${y(l) + 4}" text-anchor="end">${l}</text><line x1="${pad}" x2="${W - pad}" y1="${y(l)}" y2="${y(l)}" stroke="#ddd"/>`)
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>${ticks}
<path d="${path}" fill="none" stroke="#1f6feb" stroke-width="2"/>
<text x="${W / 2}" y="${H - 12}" text-anchor="middle">training step (16 windows of 512 tokens each)</text>
<text x="14" y="${H / 2}" transform="rotate(-90 14 ${H / 2})" text-anchor="middle">training loss (nats/token)</text>
<text x="${x(maxStep)}" y="${pad - 10}" text-anchor="end">step ${maxStep}</text>
</svg>
`;
}

async function main(): Promise<void> {
  const [work, dir] = process.argv.slice(2);
  if (!work || !dir) throw new Error('usage: tsx tools/train/model-card.ts WORK_DIR MODEL_DIR');
  const train = JSON.parse(readFileSync(`${work}/train-log.json`, 'utf8')) as TrainLog;
  const ev = JSON.parse(readFileSync(`${work}/eval.json`, 'utf8')) as Evaluation;
  const model = await loadModel(new NodeFolderSource(dir));
  const cpu = new ReferenceBackend(model);
  const F32 = parseCacheMode('f32');

  // Characters covered by the scored held-out tokens, for the per-character figure.
  const heldout = Array.from(new Uint16Array(new Uint8Array(readFileSync(`${work}/heldout.bin`)).buffer));
  const n = ev.ctx - 1;
  const scoredIds = heldout.slice(0, ev.windows * n);
  const chars = model.tokenizer.decode(scoredIds).length;
  const pplChar = Math.exp(ev.nll_sum / chars);

  // The engine's reference decoder re-scores the first windows.
  const check: { window: number; torch: number; engine: number }[] = [];
  for (let w = 0; w < 2; w++) {
    const ids = [1, ...heldout.slice(w * n, (w + 1) * n)];
    const logits = await cpu.createSession(F32).forward(ids.slice(0, n), 'all');
    let nll = 0;
    for (let t = 0; t < n; t++) nll += logSumExp(logits, t * 2048, 2048) - logits[t * 2048 + ids[t + 1]];
    check.push({ window: w, torch: ev.window_nll[w], engine: nll });
  }

  const promptIds = model.tokenizer.encode(SAMPLE_PROMPT, true);
  const sample = await generateIds(cpu, promptIds, { maxTokens: SAMPLE_TOKENS, cache: F32, sampling: GREEDY, stopIds: [] });
  const sampleText = model.tokenizer.decode(sample);
  writeFileSync(`${dir}/loss-curve.svg`, lossCurve(train.log));
  writeFileSync(`${dir}/sample.json`, `${JSON.stringify({ prompt: SAMPLE_PROMPT, promptIds, ids: sample, text: sampleText }, null, 1)}\n`);

  const c = train.config;
  const last = train.log[train.log.length - 1];
  const card = `# austen-3m

A small Llama-architecture language model trained by this project on five of Jane Austen's novels. It is the
demo's offline default and the deeper multi-head-attention model of the test suite. Everything here is
produced by one command, \`npm run train-default-model\` (tools/train/train-default-model.sh).

## Data and licence

- Training text: *Emma*, *Mansfield Park*, *Northanger Abbey*, *Persuasion*, *Sense and Sensibility*, as
  shipped by Debian's \`r-cran-janeaustenr\` package (extracted without R by tools/train/extract_austen.py).
  ${train.train_tokens.toLocaleString('en-US')} tokens.
- Held out entirely: *Pride and Prejudice* (${heldout.length.toLocaleString('en-US')} tokens), used only for the evaluation below.
- The novels are in the public domain; so are this model's weights (CC0).

## Architecture

LlamaForCausalLM: ${c.num_hidden_layers} layers, hidden size ${c.hidden_size}, ${c.num_attention_heads} heads of ${c.head_dim} with
${c.num_key_value_heads} kv heads (multi-head attention), SwiGLU feed-forward of ${c.intermediate_size}, RMSNorm (eps ${c.rms_norm_eps}),
rotate-half RoPE (theta ${c.rope_theta}), context ${c.max_position_embeddings}, tied input/output embeddings.
${train.parameters.toLocaleString('en-US')} parameters, stored as f32 safetensors.

Tokenizer: byte-level BPE with ${c.vocab_size} tokens (ids 0-2 \`<unk>\`, \`<s>\`, \`</s>\`; 256 bytes; merges) trained by
tools/train/bpe.py on the training novels. The project's tokenizer stack encodes and decodes all six novels
back to the identical text (checked by tools/train/encode-corpus.ts).

## Training

\`npm run train-default-model\`: torch ${train.torch} (Debian python3-torch on OpenBLAS, 2 threads), seed ${train.seed},
AdamW (betas 0.9/0.95, weight decay 0.1), peak learning rate 3e-3 with 30 warm-up steps and cosine decay
to 10%, batches of ${train.batch} windows of ${train.ctx} tokens, ${train.steps} steps (${train.tokens_seen.toLocaleString('en-US')} tokens seen,
${(train.tokens_seen / train.train_tokens).toFixed(2)} epochs). Final training loss ${last.loss.toFixed(3)}.
Training took ${(train.seconds / 60).toFixed(1)} minutes on the build machine (2 cores, no GPU).

![training loss](loss-curve.svg)

## Held-out perplexity (*Pride and Prejudice*)

Protocol of shared/models/README.md: the text encoded once without BOS, cut into ${ev.windows} consecutive windows
of ${n} tokens, each prefixed with BOS, all ${ev.scored_tokens.toLocaleString('en-US')} next-token predictions scored
(computed with torch by tools/train/evaluate.py).

| measure | value |
|---|---|
| perplexity per token | ${ev.ppl_token.toFixed(2)} |
| perplexity per character (same NLL over the ${chars.toLocaleString('en-US')} characters those tokens cover) | ${pplChar.toFixed(3)} |
| character unigram model of the training text (add-one), per character | ${ev.unigram_char_ppl.toFixed(3)} |

Check of the export: this project's reference decoder re-scored the first windows from the exported folder:
${check.map((k) => `window ${k.window}: NLL ${k.engine.toFixed(3)} (engine) vs ${k.torch.toFixed(3)} (torch)`).join('; ')}.

## Greedy sample

Prompt \`${SAMPLE_PROMPT}\` (with BOS), ${SAMPLE_TOKENS} greedy tokens, f32 weights (reference decoder; the WebGPU
engine reproduces it in src/engine/austen-model.gpu.test.ts). Ids are in sample.json.

> ${SAMPLE_PROMPT}${sampleText.replace(/\n/g, ' ')}
`;
  writeFileSync(`${dir}/MODEL_CARD.md`, card);
  console.log(
    `per token ${ev.ppl_token.toFixed(3)}, per char ${pplChar.toFixed(3)} (unigram ${ev.unigram_char_ppl.toFixed(3)}); sample: ${sampleText.slice(0, 120)}`,
  );
}

await main();
