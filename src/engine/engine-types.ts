// What the engine's API takes and returns: load options, requests, results and reports (the Engine class is in
// engine.ts; the Worker host and the client re-export these types).

import type { KeptSessionInfo } from './session-pool';
import type { SavedConversationInfo } from '../storage/conversation-cache';
import type { MemoryReport } from './backend';
import type { ModelSpec } from '../model/model-spec';
import type { SamplingOptions, TokenLogprob } from './sampling';
import type { ConstraintSpec } from '../grammar/constraint';
import type { CachePlan } from './planner';
import type { KernelChoice, KernelFamily } from '../webgpu/kernel-family';

export interface EngineLoadOptions {
  /** GPU memory the KV/X cache may use; the `auto` cache mode and memory() plan against it. */
  memoryBudgetMB?: number;
  /**
   * The perplexity cost `auto` may accept for speed, as a fraction (default 0.01: +1%): it picks the fastest
   * configuration within it, else the most accurate that fits. A larger bound lets it prefer fast modes over slow
   * exact ones (src/engine/planner.ts).
   */
  accuracyBound?: number;
  /** Seconds spent writing weights to the GPU, added to as the upload runs. */
  timings?: { upload: number };
  /** Kernel family: auto (from the adapter), rowwise or tiled (src/webgpu/kernel-family.ts). */
  kernels?: KernelChoice;
  /**
   * f16 arithmetic in the tiled family's prefill GEMM tiles and decode GEMVs, and f16-staged attention queries, where
   * the device has shader-f16 (default false).
   */
  f16Math?: boolean;
}

export interface MemoryInfo {
  /** Live GPU buffers by category. */
  gpu: MemoryReport;
  /** Every cache mode against the budget, for `context` tokens. */
  plan: CachePlan;
  /** The model's own context (positions). */
  modelContext: number;
  /** The device's largest storage binding: no cache buffer may pass it. */
  maxBindingBytes: number;
  /** Conversations kept for prefix reuse, most recently used first: their cache bytes count against the budget. */
  sessions: KeptSessionInfo[];
  /** Conversations saved for the loaded model (saveConversation), newest first; [] when the engine has no store. */
  saved: SavedConversationInfo[];
}

export interface ModelSummary {
  name: string;
  spec: ModelSpec;
  weights: string;
  adapter: string;
  /** The kernel family chosen for this adapter (or forced by the load's `kernels`). */
  kernels: KernelFamily;
  /**
   * Whether the tiled-family GEMMs and GEMVs run in f16 (and attention stages its queries in f16) (asked for with
   * `f16Math`, and the device has shader-f16).
   */
  f16Math: boolean;
  memory: MemoryReport;
  hasChatTemplate: boolean;
}

export interface GenerateRequest {
  /** Token ids, or text that the model's tokenizer encodes (with BOS). */
  prompt: number[] | string;
  maxTokens: number;
  /** A cache mode name, or 'auto' (default): the planner's pick for prompt + maxTokens in the budget (src/engine/planner.ts: the fastest within the accuracy bound; a continued kept conversation keeps its mode). */
  cache?: string;
  sampling?: SamplingOptions;
  /** Generation ends before the first of these strings; it is not part of the text. */
  stop?: string[];
  /**
   * A prompt too long for the context: 'disabled' (default) refuses it with a typed error; 'auto' keeps
   * its first SINK_TOKENS tokens (attention sinks) and its end, dropping the middle, so the prompt and at
   * least a quarter of the context (or max_tokens, if less) for the reply fit.
   */
  truncation?: 'disabled' | 'auto';
  /** The output must follow this grammar (a JSON schema, any JSON object, GBNF, a regex); it ends when the grammar does. */
  constraint?: ConstraintSpec;
  /**
   * Record each generated token's log-probability with `top` alternatives into `into` as tokens are chosen (a
   * streaming caller reads it between text deltas); GenerationStats.logprobs holds them too.
   */
  logprobs?: { top: number; into?: TokenLogprob[] };
  /**
   * Reuse a kept conversation (default true): the cache of an earlier request in the same mode whose tokens start
   * this prompt is kept up to where they differ (src/cache/keep.ts), and only the rest is prefilled; afterwards this
   * request's tokens are kept for the next one.
   */
  reuse?: boolean;
  /**
   * A prompt that is a kept conversation with a run of its tokens cut out (older messages dropped to fit the context):
   * 'keep' keeps the cache entries after the cut, moved down with their positions re-based (every mode; a residual
   * window or hot tier only when the kept tail covers it: src/cache/keep.ts canShift); 'prefill' runs them again.
   * Default DEFAULT_CONTEXT_SHIFT.
   */
  contextShift?: ContextShift;
  signal?: AbortSignal;
}

export type ContextShift = 'keep' | 'prefill';

/** Chosen by measurement (BENCHMARKS.md, "Context shift"): see docs/api.md. */
export const DEFAULT_CONTEXT_SHIFT: ContextShift = 'keep';

/** Tokens kept from the start of a prompt cut by `truncation: 'auto'`. */
export const SINK_TOKENS = 4;

export interface GenerationStats {
  ids: number[];
  text: string;
  finishReason: 'stop' | 'length';
  /** Per generated id, when the request asked for log-probabilities. */
  logprobs?: TokenLogprob[];
  /** Prompt tokens (after truncation), and how many were dropped. */
  promptTokens: number;
  /** Prompt tokens a kept conversation already held: not run again (OpenAI's prompt_tokens_details.cached_tokens). */
  cachedTokens: number;
  /** Of cachedTokens, those kept across a context shift (contextShift 'keep'). */
  shiftedTokens?: number;
  /** Of cachedTokens, those read from a saved conversation (saveConversation) rather than a kept one. */
  restoredTokens: number;
  /** Saved conversations that could not be used (stale or damaged: deleted), said rather than hidden. */
  savedCacheNotes?: string[];
  /** Chat messages the caller dropped whole to fit the context (set by the chat layer). */
  truncatedMessages?: number;
  truncatedTokens: number;
  cache: string;
  cacheBytes: number;
  /** From the request to the first generated token (the prefill). */
  timeToFirstTokenMs: number;
  prefillTokensPerSecond: number;
  /** Tokens after the first over the time after the first. */
  decodeTokensPerSecond: number;
  seconds: number;
}

/** The cache budget (MiB) when a load names none. */
export const DEFAULT_BUDGET_MB = 256;

export interface ModeReady {
  cache: string;
  /** Kernels compiled now (0: the mode was ready). */
  kernels: number;
  seconds: number;
}

export interface ScoreResult {
  /** Mean over the continuation's tokens of -log p(token | everything before it), in nats. */
  meanNll: number;
  /** Each token's -log p, in order: paired with another cache's on the same continuation, the spread of the differences says what is noise. */
  tokenNlls: number[];
  tokens: number;
  cache: string;
}
