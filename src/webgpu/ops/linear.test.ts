// The tiled-family GEMV's lane layout at real shapes: lanes along K grow with the row length (at least 8, a
// 128-byte run per row and step), rows per lane with the matrix height, and with a fused RoPE the
// workgroup's rows always form rotate-half pairs that tile a head's half.

import { describe, expect, it } from 'vitest';
import { GEMV_WG, gemvLayout, gemvWorkgroupBytes } from './linear';

describe('gemvLayout', () => {
  it('spreads lanes along K by the row length in 16-byte blocks', () => {
    expect(gemvLayout('q4', 2048, 8192)).toEqual({ kLanes: 16, laneRows: 4 }); // Llama-3.2-1B gate: 64 blocks, 512 workgroups
    expect(gemvLayout('q4', 14336, 4096)).toEqual({ kLanes: 64, laneRows: 4 }); // Llama-3.1-8B down: 448 blocks
    expect(gemvLayout('f32', 576, 49152)).toEqual({ kLanes: 32, laneRows: 4 }); // 144 blocks of 4 weights
    expect(gemvLayout('q4', 4096, 4096)).toEqual({ kLanes: 32, laneRows: 4 }); // Llama-3.1-8B q: 128 blocks, 512 workgroups
  });

  it('short matrices take fewer rows per workgroup, so at least 256 workgroups run where they can', () => {
    expect(gemvLayout('q4', 576, 576)).toEqual({ kLanes: 32, laneRows: 1 }); // SmolLM2-135M q: 18 blocks; 288 workgroups, not 72
    expect(gemvLayout('q4', 896, 896)).toEqual({ kLanes: 32, laneRows: 1 }); // Qwen2.5-0.5B q: 448 workgroups
    expect(gemvLayout('q4', 576, 192)).toEqual({ kLanes: 64, laneRows: 1 }); // SmolLM2-135M k: a row per workgroup, 192
    expect(gemvLayout('q4', 576, 1536)).toEqual({ kLanes: 16, laneRows: 1 }); // SmolLM2-135M gate: 384 workgroups
  });

  it('with RoPE, the workgroup rows are an even count whose half divides head_dim / 2', () => {
    for (const [format, cols, rows, half] of [
      ['q4', 576, 576, 32],
      ['q8', 2048, 2048, 32],
      ['f16', 4096, 4096, 64],
      ['q4', 64, 64, 4], // a tiny test model: head_dim 8
      ['f32', 16384, 8192, 2],
    ] as const) {
      const l = gemvLayout(format, cols, rows, half);
      const wgRows = (GEMV_WG / l.kLanes) * l.laneRows;
      expect(wgRows % 2, `${format} ${cols}`).toBe(0);
      expect(half % (wgRows / 2), `${format} ${cols}`).toBe(0);
    }
  });

  it('workgroup bytes: one sum per lane and row (tree) or per 4-lane chunk (subgroups), whatever the K lanes', () => {
    for (const kLanes of [4, 8, 64]) {
      expect(gemvWorkgroupBytes({ kLanes, laneRows: 4 }, 2)).toBe(64 * 9 * 4);
      expect(gemvWorkgroupBytes({ kLanes, laneRows: 4 }, 2, true)).toBe(16 * 9 * 4);
    }
  });
});
