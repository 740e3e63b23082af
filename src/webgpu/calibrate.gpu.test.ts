// The device profile measured at load: the loaded model's own decode steps (fp16 and xquant-4), kept per adapter.

import { describe, expect, it } from 'vitest';
import { decodeStepCost } from '../cache/cache-cost';
import { parseCacheMode } from '../cache/cache-config';
import { DEFAULT_PROFILE } from '../engine/device-profile';
import { Engine } from '../engine/engine';
import { nodeModelSource } from '../model/node-file-source';
import { MemoryChunkStore } from '../storage/chunk-store';
import { loadPreparedModel } from '../storage/model-loader';
import { sharedPath } from '../test-support/shared-models';
import { webGpuBackends } from './backend';
import { nodeGpu, nodeShaders } from './node-gpu';

async function stories() {
  const dir = sharedPath('models/stories260K');
  const { model } = await loadPreparedModel({
    resolved: { id: `file:${dir}`, revision: '', name: 'stories260K', source: nodeModelSource(dir) },
    format: 'q8',
    cache: null,
  });
  return model;
}

describe('device calibration', () => {
  it('measures GEMV bandwidth, the rebuild rate and launch overhead, plans with them, and a later load on the adapter starts with them', async () => {
    const store = new MemoryChunkStore();
    const engine = new Engine(webGpuBackends(nodeGpu(), nodeShaders()), { deviceProfiles: store });
    const model = await stories();
    await engine.load(model);
    expect(engine.deviceProfile).toBe(DEFAULT_PROFILE);
    expect(engine.memory(512).plan.profile).toEqual({ name: DEFAULT_PROFILE.name, source: 'stated' });
    const p = await engine.calibrate();
    expect(p.source).toBe('measured');
    for (const v of [p.gemvGBps, p.rebuildGflops, p.layerOverheadUs]) expect(v).toBeGreaterThan(0);
    // A CPU adapter is far below any GPU's data sheet: the measured rebuild rate is under a stated laptop's.
    expect(p.rebuildGflops).toBeLessThan(DEFAULT_PROFILE.rebuildGflops);
    const plan = engine.memory(512).plan;
    expect(plan.profile.source).toBe('measured');
    // The estimates now follow the measured figures: xquant-4's step differs from fp16's by its rebuild at the measured
    // rate and its other cache bytes at the measured bandwidth (the weights and the launches cancel). Not a bound on a
    // timing: the measured rates vary from run to run, the relation between the estimates does not.
    const ms = (mode: string) => plan.modes.find((m) => m.mode === mode)!.msPerToken;
    const cost = (mode: string) => decodeStepCost(model.spec, parseCacheMode(mode), 512);
    const [x, f] = [cost('xquant-4'), cost('fp16')];
    const expected = (x.cacheBytes - f.cacheBytes) / (p.gemvGBps * 1e6) + (x.rebuildFlops - f.rebuildFlops) / (p.rebuildGflops * 1e6);
    expect(x.rebuildFlops).toBeGreaterThan(0);
    expect(ms('xquant-4') - ms('fp16')).toBeCloseTo(expected, 6);
    engine.unload();

    const later = new Engine(webGpuBackends(nodeGpu(), nodeShaders()), { deviceProfiles: store });
    await later.load(await stories());
    expect(later.deviceProfile).toEqual(p);
    later.unload();
  });
});
