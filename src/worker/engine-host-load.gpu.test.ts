// Loading a model over a loaded one: the loaded model stays usable until the new one is on the device, and a
// failed load leaves it loaded (issue: "a failed load keeps the working model"). dawn.node on SwiftShader;
// the out-of-memory cases run on a GPU whose devices share a byte allowance (src/test-support/scarce-device.ts).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GpuOutOfMemoryError, InvalidArgumentError, MissingFileError } from '../errors';
import { MemoryChunkStore } from '../storage/chunk-store';
import { newAllowance, sharedAllowanceGpu, type Allowance } from '../test-support/scarce-device';
import { sharedPath } from '../test-support/shared-models';
import { PHI4_SHAPE } from '../test-support/architecture-shapes';
import { syntheticSource } from '../test-support/synthetic-model';
import { nodeGpu, nodeShaders } from '../webgpu/node-gpu';
import { EngineHost } from './engine-host';

const ORACLE = [403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338];

function pickedFiles(model: string, dir = sharedPath(`models/${model}`)): File[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => new File([readFileSync(join(dir, e.name))], e.name, { lastModified: statSync(join(dir, e.name)).mtimeMs }));
}

let n = 0;
const id = () => `l${++n}`;
const stories = () => ({ files: pickedFiles('stories260K'), name: 'stories260K' });
// reuse: false, so the request's session is freed, not kept (the tests count every byte the device holds).
const greedy = async (host: EngineHost) =>
  (await host.completion(id(), { prompt: [1], max_tokens: 16, temperature: 0, cache: 'fp16', reuse: false }))!.choices[0].token_ids;

describe('loading over a loaded model', () => {
  it('a load that fails (a folder without config.json) leaves the loaded model usable, with the same output', async () => {
    const host = new EngineHost(nodeGpu(), nodeShaders(), new MemoryChunkStore(), 'http://localhost/');
    const first = await host.load(id(), stories(), { weights: 'q8', warmup: false });
    expect(await greedy(host)).toEqual(ORACLE);
    const broken = [new File(['{}'], 'tokenizer.json')];
    await expect(host.load(id(), { files: broken, name: 'broken' }, { weights: 'q8', warmup: false })).rejects.toBeInstanceOf(MissingFileError);
    expect(host.status().loaded).toBe(true);
    expect(host.memory().gpu.weights).toBe(first.memory.weights);
    expect(await greedy(host)).toEqual(ORACLE);
  });

  /** A host on a GPU whose devices share an allowance, with stories260K (q8) loaded and the bytes it holds idle. */
  async function hostWithModel(): Promise<{ host: EngineHost; pool: Allowance; idle: number; weights: number }> {
    const pool = newAllowance();
    const host = new EngineHost(sharedAllowanceGpu(nodeGpu(), pool), nodeShaders(), new MemoryChunkStore(), 'http://localhost/');
    const loaded = await host.load(id(), stories(), { weights: 'q8', warmup: false });
    const idle = pool.allocated;
    expect(await greedy(host)).toEqual(ORACLE);
    expect(pool.allocated).toBe(idle); // the request's session gave its buffers back
    return { host, pool, idle, weights: loaded.memory.weights };
  }

  it('where both models cannot be resident, the old one is unloaded and the new one loaded alone', async () => {
    const { host, pool, idle, weights } = await hostWithModel();
    pool.limit = idle + weights / 2; // room for one model, not for two
    const second = await host.load(id(), { files: pickedFiles('stories260K'), name: 'stories260K-again' }, { weights: 'q8', warmup: false });
    expect(second.name).toBe('stories260K-again');
    expect(pool.allocated).toBe(idle);
    pool.limit = Infinity; // room for a request's buffers
    expect(host.status().loaded).toBe(true);
    expect(await greedy(host)).toEqual(ORACLE);
  });

  it('a model too large even alone fails with GpuOutOfMemoryError, and the one loaded before comes back', async () => {
    const { host, pool, idle, weights } = await hostWithModel();
    pool.limit = idle + weights / 2; // austen-3m's 3M f32 weights take 12 MB
    const austen = { files: pickedFiles('austen-3m', new URL('../../public/models/austen-3m', import.meta.url).pathname), name: 'austen-3m' };
    await expect(host.load(id(), austen, { weights: 'f32', warmup: false })).rejects.toBeInstanceOf(GpuOutOfMemoryError);
    expect(host.status().loaded).toBe(true);
    expect(host.memory().gpu.weights).toBe(weights);
    expect(pool.allocated).toBe(idle);
    pool.limit = Infinity;
    expect(await greedy(host)).toEqual(ORACLE);
  });
});

describe('contextLength', () => {
  it("caps the context; past a longrope model's trained context the load runs its long factors; past max_position_embeddings it is refused", async () => {
    const src = syntheticSource(PHI4_SHAPE);
    const names = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'];
    const files = await Promise.all(names.map(async (f) => new File([await src.read(f)], f)));
    const host = new EngineHost(nodeGpu(), nodeShaders(), new MemoryChunkStore(), 'http://localhost/');
    const plain = await host.load(id(), { files, name: 'phi-kind' }, { weights: 'f32', warmup: false });
    expect(plain.spec).toMatchObject({ maxPositionEmbeddings: 64, ropeScaling: { factors: 'short' } });
    const long = await host.load(id(), { files, name: 'phi-long' }, { weights: 'f32', warmup: false, contextLength: 128 });
    expect(long.spec).toMatchObject({ maxPositionEmbeddings: 128, ropeScaling: { factors: 'long' } });
    for (const bad of [513, 0, 1.5]) {
      await expect(host.load(id(), { files, name: 'phi-bad' }, { weights: 'f32', warmup: false, contextLength: bad })).rejects.toBeInstanceOf(
        InvalidArgumentError,
      );
    }
    expect(host.status()).toMatchObject({ loaded: true, model: 'phi-long' }); // the refused loads left the long one loaded
  });
});
