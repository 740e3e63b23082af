// RoPE's (cos, sin) tables on the GPU, one per kind the layers use (src/reference/rope.ts layerRopeKind), for as
// many positions as a session's cache holds: made again whenever the cache grows.

import type { ModelSpec } from '../model/model-spec';
import { ropeAmplitudes, ropeInverseFrequencies, ropeKinds, type LayerRopeKind } from '../reference/rope';
import type { GpuMemory } from './memory';
import { ropeTable } from './ops/rope';

export class RopeTables {
  private readonly tables = new Map<LayerRopeKind, GPUBuffer>();
  private positions = 0;

  constructor(
    private readonly memory: GpuMemory,
    private readonly spec: ModelSpec,
  ) {}

  /** The tables by kind (layers.ts Forward.rope). */
  get byKind(): ReadonlyMap<LayerRopeKind, GPUBuffer> {
    return this.tables;
  }

  /** Whether tables exist for at least `positions` positions. */
  cover(positions: number): boolean {
    return this.tables.size > 0 && this.positions >= positions;
  }

  /** Tables for `positions` positions, in place of the old ones. */
  make(positions: number): void {
    this.release();
    this.positions = positions;
    for (const kind of ropeKinds(this.spec)) {
      const table = ropeTable(ropeInverseFrequencies(this.spec, kind), positions, ropeAmplitudes(this.spec, kind));
      this.tables.set(kind, this.memory.upload('activations', `rope.${kind}`, table));
    }
  }

  release(): void {
    for (const t of this.tables.values()) this.memory.release(t);
    this.tables.clear();
    this.positions = 0;
  }
}
