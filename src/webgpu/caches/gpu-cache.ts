// The cache modes on the GPU behind one interface: each mode stores the step's tokens of a layer and
// produces that layer's attention output, as a list of dispatches the decode session encodes. Byte
// accounting is the reference's (cacheBytesPerToken), so CPU and GPU modes report the same figures.

import type { GpuMatrix } from '../gpu-matrix';
import type { KernelFamily } from '../kernel-family';
import type { Dispatch, OpContext } from '../ops/dispatch';
import type { CacheConfig } from '../../cache/cache-config';

/** Buffers and weights of one layer's attention that a cache mode reads or writes. */
export interface LayerAttention {
  layer: number;
  /** Post-RoPE queries, keys and values of the step's tokens. */
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  /** The layer's attention input X (post-RMSNorm) of the step's tokens. */
  x: GPUBuffer;
  /** Attention output [tokens, heads * head_dim]. */
  out: GPUBuffer;
  partial: GPUBuffer;
  /** (cos, sin) per position and frequency. */
  rope: GPUBuffer;
  wk: GpuMatrix;
  wv: GpuMatrix;
  bk: GPUBuffer | null;
  bv: GPUBuffer | null;
  /** Qwen3's k_norm weights ([headDim]), applied to every K rebuilt from X before RoPE; null without q/k norms. */
  kNorm: GPUBuffer | null;
  normEps: number;
  /** Row strides (elements) of x, q and k/v. */
  xStride: number;
  qStride: number;
  kvStride: number;
  /** Building the prefill list (many tokens per forward) rather than the decode list. */
  prefill: boolean;
}

/** What a cache's shift encodes into: the session's command encoder, scratch buffers and the K-turning kernel. */
export interface ShiftIo {
  encoder: GPUCommandEncoder;
  /** A scratch buffer of at least `bytes` (STORAGE | COPY_SRC | COPY_DST), freed after the shift is submitted. */
  scratch(bytes: number): GPUBuffer;
  /** A uniform holding `words`, freed after the shift is submitted. */
  uniform(words: Uint32Array<ArrayBuffer>): GPUBuffer;
  /** Encode the dispatches `build` makes (on the session's pipelines; their grids ignore the token count) in a pass of their own. */
  compute(build: (ctx: OpContext) => Dispatch[]): void;
  /** Turn rows [row0, row0 + rows) of a layer's post-RoPE K pool back by the shift (with that layer's RoPE; none without). */
  rotateK(pool: GPUBuffer, row0: number, rows: number, f16: boolean, layer: number): void;
}

/** Move `words` u32 words from (src, srcWord) to (dst, dstWord) in runs: `runs` lists [srcWord, dstWord, words]. */
export function copyRuns(enc: GPUCommandEncoder, src: GPUBuffer, dst: GPUBuffer, runs: readonly (readonly [number, number, number])[]): void {
  for (const [s, d, w] of runs) if (w > 0) enc.copyBufferToBuffer(src, s * 4, dst, d * 4, w * 4);
}

/**
 * How a prompt runs (session.ts): 'slices', each slice through every layer; 'layers', each layer through a group
 * of slices (the quantized modes' past rows for one layer, each rebuilt once a group, where rows for every layer
 * would pass their cap); 'tokens', one token at a time (the past's rows cannot be bound at all).
 */
export type PromptOrder = 'slices' | 'layers' | 'tokens';

/** How one forward's keys are cut into chunks (written to the Step uniform). */
export interface ChunkPlan {
  /** First key of the standard attention in quantized modes (older keys are rematerialized: in decode inside
   * the attention kernels, in prefill into the transient rows the standard attention reads). */
  firstKey: number;
  /** Prefill in quantized modes: the first transient row the slice rebuilds (older ones hold the same numbers already). */
  rematFrom: number;
  chunks: number;
  chunkLen: number;
  xChunks: number;
  xChunkLen: number;
}

export interface GpuCache {
  readonly config: CacheConfig;
  /**
   * Tokens stored. Setting it back drops the tokens past it (each position is stored on its own, and rings
   * keep spare slots): run-ahead decode may overshoot a stop by up to OVERSHOOT_TOKENS.
   */
  length: number;
  /** The mode's ops read the layer's normed input X (LayerAttention.x): the attention RMSNorm cannot be fused away. */
  readonly readsInput: boolean;
  /** The mode's preRopeOps read K before RoPE (kivi stores it so): RoPE stays a dispatch of its own. */
  readonly needsPreRopeK: boolean;
  /** Tokens the buffers hold room for (the RoPE table covers as many positions). */
  readonly capacity: number;
  /** Bumped whenever buffers are replaced, so bind groups that hold them are rebuilt. */
  readonly generation: number;
  /** Make room for `tokens` tokens in total; true when buffers were replaced. */
  ensure(tokens: number): boolean;
  /** Bumped whenever the prefill's transient buffers are replaced (the prefill list is rebuilt). */
  readonly prefillGeneration: number;
  /**
   * Before a prompt of `prompt` tokens: transient buffers for a prefill slice that starts at up to `pos0` (quantized
   * modes rebuild the past's K/V there), and the order the prompt must run in: 'layers' only where `layered` (the
   * caller wants the last token's logits only).
   */
  reservePrefill(pos0: number, prompt: number, layered: boolean): PromptOrder;
  /** A 'layers' prompt: the rows are about to serve another layer, so the next slice's plan rebuilds them from the start. */
  restartRows(): void;
  /** After a prompt: free the transient buffers. */
  endPrefill(): void;
  bytesPerToken(): number;
  storedBytes(): number;
  /**
   * The chunking of the forward about to be submitted; called exactly once per forward, in order: a prompt slice's
   * plan also advances the quantized modes' mark of transient rows already rebuilt (ChunkPlan.rematFrom).
   * `decodeChunks`: how many key chunks a one-token forward may use (the tiled family's decode attention takes a
   * workgroup per kv head and chunk, so long contexts spread over many; MAX_CHUNKS otherwise).
   */
  plan(pos0: number, tokens: number, decodeChunks?: number): ChunkPlan;
  /**
   * What save() reads for the tokens stored: each buffer's used prefix (whole rings, the pages that hold
   * tokens), in a fixed order. Page tables are not saved: a cache's tables are a function of its size.
   */
  savedRegions(): { buffer: GPUBuffer; bytes: number }[];
  /** How many of the first n tokens the cache can keep exactly (keep.ts; the caller re-runs the rest). */
  exactPrefix(n: number): number;
  /** Kept between requests: free what only a forward reads (ensure() makes it again). */
  park(): void;
  /** Sliding-window rings: the first position they all still hold whole (undefined where the cache has none). */
  readonly ringsHeld: number | undefined;
  /**
   * After restoreCache wrote a snapshot: what the cache can still roll back to is what the snapshot holds (its
   * rings' `held`; without it, only their last window is sure). A held the rings cannot have is a SavedCacheError.
   */
  restored(held: number | undefined): void;
  /** What fixes the regions' meaning (mode, widths, ring and page sizes): a snapshot restores only into an equal layout. */
  snapshotLayout(): string;
  /**
   * Context shift (canShift modes; false otherwise, nothing changed): drop tokens [from, to), moving the later rows
   * down through `io`'s scratch (a buffer cannot copy onto itself) and turning post-RoPE K back by the shift.
   */
  shift(from: number, to: number, io: ShiftIo): boolean;
  /** Dispatches that must see K before RoPE (kivi stores pre-RoPE K). */
  preRopeOps(ctx: OpContext, a: LayerAttention): Dispatch[];
  /** Attention over past and present for one layer, then storing the step's tokens. */
  layerOps(ctx: OpContext, a: LayerAttention): Dispatch[];
  destroy(): void;
}

export { OVERSHOOT_TOKENS } from '../../cache/keep';

/** Key chunks per query are at most this many (partial buffers are sized for it). */
export const MAX_CHUNKS = 16;
/** Below this many keys per chunk, splitting costs more than it spreads. */
const MIN_CHUNK = 64;

/**
 * Workgroups the tiled family's decode attention aims for (kv heads x chunks): enough to occupy every core of
 * a large GPU several times over at long contexts, few enough that the merge's pass over the chunks stays
 * small next to reading the keys.
 */
const DECODE_WORKGROUPS = 512;

/**
 * Most key chunks of a one-token forward: MAX_CHUNKS for the rowwise family (one invocation per head and chunk
 * is parallel enough on an emulated adapter); for the tiled family about DECODE_WORKGROUPS / kv heads, within
 * the partials buffer's `slots` per head (it holds MAX_CHUNKS + 1 slots per head for every token of a slice).
 */
export function decodeChunkLimit(kernels: KernelFamily, kvHeads: number, slots: number): number {
  if (kernels !== 'tiled') return MAX_CHUNKS;
  return Math.max(MAX_CHUNKS, Math.min(slots, Math.ceil(DECODE_WORKGROUPS / kvHeads)));
}

/** Bytes the rematerializing decode may spend on its per-chunk partials (heads × (row width + 2) floats a chunk). */
const X_PARTIAL_BYTES = 16 * 2 ** 20;

/**
 * Most past-token chunks of the rematerializing decode (quantized modes): MAX_CHUNKS for the rowwise family; for
 * the tiled family as many as the standard attention aims for (DECODE_WORKGROUPS / kv heads), so the K rebuild
 * runs on as many workgroups, within X_PARTIAL_BYTES of partials (each chunk keeps Σ p·row for every head).
 */
export function xChunkLimit(kernels: KernelFamily, heads: number, kvHeads: number, rowWidth: number): number {
  return decodeChunkLimit(kernels, kvHeads, Math.floor(X_PARTIAL_BYTES / (heads * (rowWidth + 2) * 4)));
}

/** Chunks of at least MIN_CHUNK keys, at most `maxChunks` (MAX_CHUNKS) of them. */
export function chunking(keys: number, maxChunks = MAX_CHUNKS): { chunks: number; chunkLen: number } {
  const chunks = Math.max(1, Math.min(maxChunks, Math.floor(keys / MIN_CHUNK)));
  return { chunks, chunkLen: Math.max(1, Math.ceil(keys / chunks)) };
}
