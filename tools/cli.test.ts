// The CLIs as bench and acceptance scripts call them.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sharedPath } from '../src/test-support/shared-models';

const root = resolve(import.meta.dirname, '..');

function cli(tool: 'ppl' | 'generate' | 'chat', args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', `tools/${tool}.ts`, ...args], { cwd: root, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('CLIs', () => {
  it('generate --json reproduces the stories260K greedy oracle', () => {
    const r = cli('generate', ['--model', sharedPath('models/stories260K'), '--prompt-ids', '1', '--max-tokens', '8', '--greedy', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.ids).toEqual([403, 407, 261, 378, 432, 383, 286, 261]);
    expect(out.text).toBe('Once upon a time, there was a');
  });

  it('generate --response-format FILE.json and --grammar FILE constrain the output; a bad schema fails typed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xq-cli-'));
    const format = join(dir, 'format.json');
    const schema = {
      type: 'object',
      properties: { name: { type: 'string', maxLength: 10 }, age: { type: 'integer', minimum: 1, maximum: 12 } },
      required: ['name', 'age'],
    };
    writeFileSync(format, JSON.stringify({ type: 'json_schema', json_schema: { name: 'hero', schema } }));
    const model = sharedPath('models/stories260K');
    const r = cli('generate', [
      '--model',
      model,
      '--prompt',
      'Lily',
      '--max-tokens',
      '80',
      '--temperature',
      '1.5',
      '--seed',
      '3',
      '--response-format',
      format,
      '--json',
    ]);
    expect(r.code).toBe(0);
    const value = JSON.parse(JSON.parse(r.stdout).text);
    expect(value.age >= 1 && value.age <= 12 && value.name.length <= 10).toBe(true);
    const gbnf = join(dir, 'story.gbnf');
    writeFileSync(gbnf, 'root ::= "Once upon a time, " [a-z ]{5,30} "."\n');
    const g = cli('generate', ['--model', model, '--prompt', 'Lily', '--max-tokens', '80', '--greedy', '--grammar', gbnf, '--json']);
    expect(JSON.parse(g.stdout).text).toBe('Once upon a time, there was a little girl named .');
    writeFileSync(format, JSON.stringify({ type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', contentEncoding: 'base64' } } }));
    const bad = cli('generate', ['--model', model, '--prompt', 'Lily', '--max-tokens', '8', '--response-format', format]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/UNSUPPORTED_FIELD.*contentEncoding/);
  });

  it('chat replays a script through the engine: one JSON line per turn, cached_tokens covering the previous turn; --no-reuse runs all', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xq-chat-'));
    const script = join(dir, 'script.json');
    writeFileSync(script, JSON.stringify({ system: 'You tell stories.', turns: ['A cat.', 'And then?', 'The end?'] }));
    const args = [
      '--model',
      sharedPath('models/stories260K'),
      '--script',
      script,
      '--max-tokens',
      '12',
      '--greedy',
      '--cache',
      'f32',
      '--backend',
      'reference',
      '--json',
    ];
    const lines = (r: { stdout: string }) =>
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
    const reused = lines(cli('chat', args));
    const fresh = lines(cli('chat', [...args, '--no-reuse']));
    expect(reused).toHaveLength(3);
    expect(Object.keys(reused[0])).toEqual(['turn', 'ids', 'text', 'usage', 'ttft_ms']);
    expect(reused[1].usage.prompt_tokens_details.cached_tokens).toBeGreaterThanOrEqual(reused[0].usage.prompt_tokens);
    expect(fresh.map((t) => t.usage.prompt_tokens_details.cached_tokens)).toEqual([0, 0, 0]);
    expect(reused.map((t) => t.ids)).toEqual(fresh.map((t) => t.ids));
    const bad = cli('chat', ['--model', sharedPath('models/stories260K'), '--script', script, '--max-tokens', '4', '--backend', 'cpu']);
    expect(bad.code).toBe(2);
  });

  it('generate --cache auto picks the mode the planner picks for prompt + reply within --memory-budget-mb', () => {
    const model = sharedPath('models/stories260K');
    const roomy = cli('generate', ['--model', model, '--prompt-ids', '1', '--max-tokens', '8', '--greedy', '--cache', 'auto', '--json']);
    expect(roomy.code).toBe(0);
    expect(JSON.parse(roomy.stdout)).toMatchObject({ cache: 'fp16', ids: [403, 407, 261, 378, 432, 383, 286, 261] });
    // fp16 takes 640 B/token: 0.1 MiB holds 163 tokens, fewer than prompt + reply (201), so auto quantizes.
    const tight = cli('generate', [
      '--model',
      model,
      '--prompt-ids',
      '1',
      '--max-tokens',
      '200',
      '--greedy',
      '--cache',
      'auto',
      '--memory-budget-mb',
      '0.1',
      '--json',
    ]);
    expect(tight.code).toBe(0);
    const out = JSON.parse(tight.stdout);
    expect(out.cache).toMatch(/^(xquant|xquant-cl|kivi|xquant-gqa)-\d$/);
    expect(out.memoryBudgetMb).toBe(0.1);
    const none = cli('generate', ['--model', model, '--prompt-ids', '1', '--max-tokens', '200', '--cache', 'auto', '--memory-budget-mb', '0.001']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/\[INVALID_ARGUMENT\]: memoryBudget: no cache mode holds 201 tokens in 1049 bytes/);
  });

  it('ppl --json prints the documented fields', () => {
    const r = cli('ppl', [
      '--model',
      sharedPath('models/stories260K'),
      '--text',
      sharedPath('text/tinystories-valid-head.txt'),
      '--ctx',
      '64',
      '--windows',
      '2',
      '--cache',
      'xquant-4',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ cache: 'xquant-4', scoredTokens: 126, cacheBytesPerToken: 180, fp16KvBytesPerToken: 640 });
    expect(out.ppl).toBeCloseTo(Math.exp(out.meanNll), 10);
    expect(out.ppl).toBeGreaterThan(1);
  });

  it("--model FILE.gguf: llama.cpp's stories260K.gguf gives the oracle and the HF folder's perplexity (4.6908 at ctx 256)", () => {
    const gguf = sharedPath('models/stories260K/original/stories260K.gguf');
    const g = cli('generate', ['--model', gguf, '--prompt', 'Once upon a time', '--max-tokens', '8', '--greedy', '--json']);
    expect(g.code).toBe(0);
    expect(JSON.parse(g.stdout)).toMatchObject({ promptIds: [1, 403, 407, 261, 378], ids: [432, 383, 286, 261, 376, 298, 315, 421] });
    const p = cli('ppl', ['--model', gguf, '--text', sharedPath('text/tinystories-valid-head.txt'), '--ctx', '256', '--windows', '64', '--json']);
    expect(p.code).toBe(0);
    expect(JSON.parse(p.stdout).ppl).toBeCloseTo(4.6908, 4);
  });

  it('bad arguments print the usage and exit non-zero', () => {
    for (const args of [[], ['--model'], ['--model', 'x', '--ctx', 'ten', '--text', 'y', '--windows', '1'], ['--nope', '1']]) {
      const r = cli('ppl', args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/usage: npm run -s ppl --/);
    }
    const g = cli('generate', ['--model', 'x', '--max-tokens', '3']);
    expect(g.code).toBe(2);
    expect(g.stderr).toMatch(/exactly one of --prompt and --prompt-ids/);
  });

  it('a bad model folder or cache mode fails with a typed error naming what is wrong', () => {
    const missing = cli('generate', ['--model', '/nonexistent-model', '--prompt-ids', '1', '--max-tokens', '1']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/\[MISSING_FILE\]: .*\/nonexistent-model\/config.json/);
    const mode = cli('generate', ['--model', sharedPath('models/stories260K'), '--prompt-ids', '1', '--max-tokens', '1', '--cache', 'xquant-5']);
    expect(mode.code).toBe(1);
    expect(mode.stderr).toMatch(/\[INVALID_ARGUMENT\]: cache: unsupported bit width/);
    // The tiered cache needs the GPU backend: the reference decoder has no hot tier, so it refuses rather than run pure xquant.
    const hot = cli('generate', [
      '--model',
      sharedPath('models/stories260K'),
      '--prompt-ids',
      '1',
      '--max-tokens',
      '1',
      '--cache',
      'xquant-4:hot=128',
      '--backend',
      'reference',
    ]);
    expect(hot.code).toBe(1);
    expect(hot.stderr).toMatch(/\[INVALID_ARGUMENT\]: cache: the tiered cache \(hot\) runs on the WebGPU backend only/);
  });
});
