// Device acquisition asks for the limits the engine uses, as large as the adapter grants.

import { describe, expect, it } from 'vitest';
import { acquireDevice, WANTED_LIMITS } from './device';
import { nodeGpu } from './node-gpu';

describe('acquireDevice', () => {
  it("storage bindings as large as the adapter grants (up to 2 GiB, inside one buffer), not WebGPU's 128 MiB default", async () => {
    const adapter = (await nodeGpu().requestAdapter())!;
    const want = Math.min(WANTED_LIMITS.maxStorageBufferBindingSize, adapter.limits.maxStorageBufferBindingSize, adapter.limits.maxBufferSize);
    const acquired = await acquireDevice(nodeGpu());
    expect(acquired.maxStorageBindingBytes).toBe(want);
    expect(acquired.device.limits.maxStorageBufferBindingSize).toBe(want);
    expect(acquired.device.limits.maxBufferSize).toBeGreaterThanOrEqual(want);
    // SwiftShader grants 1 GiB, lavapipe 128 MiB: either way at least what WebGPU guarantees.
    expect(want).toBeGreaterThanOrEqual(128 * 2 ** 20);
    acquired.device.destroy();
  });
});
