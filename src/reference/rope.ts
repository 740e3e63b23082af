// Rotary position embedding in Hugging Face's rotate-half layout: element i pairs with i + headDim/2.
// Angles are computed in f64 from (optionally llama3-, linear- or longrope-scaled) inverse frequencies.
//
// Partial rotary (Phi-4-mini turns 96 of 128 dims): the loader reorders q/k rows (src/model/checkpoint.ts,
// headRowOrder) so that the turned pairs are frequencies 0..rotaryDim/2-1 of this layout and the untouched dims
// pair up after them with frequency 0 (cos 1, sin 0). Every kernel then rotates whole heads as before.

import { layerWindow, type ModelSpec } from '../model/model-spec';

/** Which RoPE a layer takes: the model's, the windowed layers' own base (Gemma 3's 10K), or none (SmolLM3). */
export type LayerRopeKind = 'global' | 'local' | 'none';

export function layerRopeKind(spec: ModelSpec, layer: number): LayerRopeKind {
  if (spec.noRopeLayers.includes(layer)) return 'none';
  return spec.localRopeTheta !== null && layerWindow(spec, layer) !== null ? 'local' : 'global';
}

/** The kinds a model's layers use, each once. */
export function ropeKinds(spec: ModelSpec): LayerRopeKind[] {
  return [...new Set(Array.from({ length: spec.numLayers }, (_, l) => layerRopeKind(spec, l)))];
}

/** Inverse frequencies of one kind: 'local' is plain RoPE at localRopeTheta (no scaling), 'none' all zero (cos 1, sin 0). */
export function ropeInverseFrequencies(spec: ModelSpec, kind: LayerRopeKind = 'global'): Float64Array {
  const half = spec.headDim / 2;
  const turned = spec.rotaryDim / 2;
  const inv = new Float64Array(half); // frequencies past `turned` stay 0: those dims are not rotated
  if (kind === 'none') return inv;
  const theta = kind === 'local' ? spec.localRopeTheta! : spec.ropeTheta;
  for (let i = 0; i < turned; i++) inv[i] = 1 / theta ** ((2 * i) / spec.rotaryDim);
  if (kind === 'local') return inv;
  if (spec.ropeFreqFactors) for (let i = 0; i < turned; i++) inv[i] /= spec.ropeFreqFactors[i];
  const s = spec.ropeScaling;
  if (!s) return inv;
  if (s.type === 'longrope') {
    const f = s.factors === 'long' ? s.longFactor : s.shortFactor;
    for (let i = 0; i < turned; i++) inv[i] /= f[i];
    return inv;
  }
  if (s.type === 'linear') {
    for (let i = 0; i < turned; i++) inv[i] /= s.factor;
    return inv;
  }
  // llama3: long wavelengths are slowed down by `factor`, short ones kept, the band between interpolated.
  const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  for (let i = 0; i < half; i++) {
    const wavelen = (2 * Math.PI) / inv[i];
    if (wavelen > lowWavelen) inv[i] /= s.factor;
    else if (wavelen >= highWavelen) {
      const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      inv[i] = (1 - smooth) * (inv[i] / s.factor) + smooth * inv[i];
    }
  }
  return inv;
}

/** The factor on cos and sin per frequency: longrope's attention_factor on turned dims, 1 elsewhere. */
export function ropeAmplitudes(spec: ModelSpec, kind: LayerRopeKind = 'global'): Float64Array {
  const amp = new Float64Array(spec.headDim / 2).fill(1);
  if (kind === 'global' && spec.ropeScaling?.type === 'longrope') amp.fill(spec.ropeScaling.attentionFactor, 0, spec.rotaryDim / 2);
  return amp;
}

export class Rope {
  private readonly invFreq: Float64Array;
  private readonly amp: Float64Array;
  private readonly half: number;
  /** cos/sin per position, grown on demand: table[pos * half + i]. */
  private cos = new Float64Array(0);
  private sin = new Float64Array(0);
  private positions = 0;

  constructor(spec: ModelSpec, kind: LayerRopeKind = 'global') {
    this.invFreq = ropeInverseFrequencies(spec, kind);
    this.amp = ropeAmplitudes(spec, kind);
    this.half = spec.headDim / 2;
  }

  private ensure(pos: number): void {
    if (pos < this.positions) return;
    const n = Math.max(pos + 1, this.positions * 2, 64);
    const cos = new Float64Array(n * this.half);
    const sin = new Float64Array(n * this.half);
    cos.set(this.cos);
    sin.set(this.sin);
    for (let p = this.positions; p < n; p++) {
      for (let i = 0; i < this.half; i++) {
        const a = p * this.invFreq[i];
        cos[p * this.half + i] = this.amp[i] * Math.cos(a);
        sin[p * this.half + i] = this.amp[i] * Math.sin(a);
      }
    }
    this.cos = cos;
    this.sin = sin;
    this.positions = n;
  }

  /** Rotate `heads` consecutive head vectors starting at v[off], in place, for position `pos`. */
  apply(v: Float32Array, off: number, heads: number, pos: number): void {
    this.ensure(pos);
    const half = this.half;
    const t = pos * half;
    for (let h = 0; h < heads; h++) {
      const b = off + h * 2 * half;
      for (let i = 0; i < half; i++) {
        const x0 = v[b + i];
        const x1 = v[b + i + half];
        const c = this.cos[t + i];
        const s = this.sin[t + i];
        v[b + i] = x0 * c - x1 * s;
        v[b + i + half] = x1 * c + x0 * s;
      }
    }
  }
}

/** RoPE per layer (a model's layers may differ: Gemma 3's local and global bases, SmolLM3's unturned layers). */
export class LayerRopes {
  /** Each layer's Rope (layers of one kind share it), or null where the layer has none: decided once, not per token. */
  private readonly byLayer: (Rope | null)[];

  constructor(spec: ModelSpec) {
    const ropes = new Map<LayerRopeKind, Rope>();
    this.byLayer = Array.from({ length: spec.numLayers }, (_, l) => {
      const kind = layerRopeKind(spec, l);
      if (kind === 'none') return null;
      if (!ropes.has(kind)) ropes.set(kind, new Rope(spec, kind));
      return ropes.get(kind)!;
    });
  }

  /** Rotate `heads` head vectors at v[off] for position `pos` as `layer` does (nothing where it has no RoPE). */
  apply(layer: number, v: Float32Array, off: number, heads: number, pos: number): void {
    this.byLayer[layer]?.apply(v, off, heads, pos);
  }
}
