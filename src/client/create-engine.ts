// The public API: an engine in a dedicated Worker, driven through Comlink, with OpenAI-shaped chat and
// text completions. Streams are pushed by the Worker (one message per chunk, no per-token round trip) and
// surface here as AsyncIterables. Errors keep their class across the boundary (error-transfer.ts);
// AbortSignals, which cannot cross it, become abort(requestId) calls.

import * as Comlink from 'comlink';
import type { MemoryInfo, ModeReady, ScoreResult } from '../engine/engine';
import type { DeviceProfile } from '../engine/device-profile';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Completion, CompletionChunk, CompletionRequest } from '../engine/openai';
import { AbortedError } from '../errors';
import type { PerplexityResult } from '../eval/perplexity';
import { isHubRepoId, isUrlLike, type ModelRef } from '../model/model-ref';
import type { WeightFormat } from '../quant/weight-format';
import type { KernelChoice } from '../webgpu/kernel-family';
import type { LoadProgress } from '../storage/model-loader';
import type { CachedModelInfo } from '../storage/weight-cache';
import type { SavedConversationInfo } from '../storage/conversation-cache';
import type { HostHealth, LoadOptions as HostLoadOptions, LoadResult, ScoreRequest, StreamEvent } from '../worker/engine-host';
import type { WorkerApi } from '../worker/engine-worker';
import { deserializeEngineError, installErrorTransfer } from './error-transfer';

export interface EngineOptions {
  /** Hugging Face base address for repo ids (a mirror, a local server). */
  hubBase?: string;
  /** Kernel family for every load: 'auto' (default: from the adapter), 'rowwise' or 'tiled'; a load's own `kernels` wins. */
  kernels?: KernelChoice;
}

export interface LoadOptions extends Omit<HostLoadOptions, 'hubBase'> {
  signal?: AbortSignal;
  onProgress?: (p: LoadProgress) => void;
}

type WithSignal<T> = T & { signal?: AbortSignal };

export interface ChatCompletions {
  create(r: WithSignal<ChatCompletionRequest> & { stream: true }): Promise<AsyncIterable<ChatCompletionChunk>>;
  create(r: WithSignal<ChatCompletionRequest> & { stream?: false }): Promise<ChatCompletion>;
}

export interface Completions {
  create(r: WithSignal<CompletionRequest> & { stream: true }): Promise<AsyncIterable<CompletionChunk>>;
  create(r: WithSignal<CompletionRequest> & { stream?: false }): Promise<Completion>;
}

export interface XQuantEngine {
  load(model: ModelRef, o?: LoadOptions): Promise<LoadResult>;
  chat: { completions: ChatCompletions };
  completions: Completions;
  perplexity(
    text: string,
    o?: { ctx?: number; windows?: number; cache?: string; signal?: AbortSignal },
  ): Promise<PerplexityResult & { cache: string; ctx: number }>;
  memory(context?: number): Promise<MemoryInfo>;
  /** Compile a cache mode's kernels (and make its factors) now, so a request in that mode does not wait for them. */
  prepareMode(cache: string): Promise<ModeReady>;
  /**
   * Measure this GPU's throughput (a few decode steps of the loaded model): memory()'s plan and `auto` use it from
   * now on, and later visits on the same GPU start with it. Until then the plan assumes a stated mid-range laptop GPU.
   */
  calibrate(): Promise<DeviceProfile>;
  /** Mean negative log-likelihood of a continuation after a prompt under a cache mode (teacher-forced). */
  score(r: ScoreRequest & { signal?: AbortSignal }): Promise<ScoreResult>;
  /** Change the cache's GPU memory budget (MiB) without reloading; `auto` and memory() plan against it. */
  setMemoryBudget(mb: number): Promise<void>;
  /**
   * Save the conversation the last request left in the cache to IndexedDB, in the cache's own compressed form: after
   * a page reload, a request whose prompt starts with it (same model and cache mode) continues with no re-prefill.
   */
  saveConversation(): Promise<SavedConversationInfo>;
  /** Conversations saved for the loaded model, newest first. */
  savedConversations(): Promise<SavedConversationInfo[]>;
  /** Delete a saved conversation (by key), or all of the loaded model's. */
  deleteSavedConversations(key?: string): Promise<void>;
  unload(): Promise<void>;
  listCachedModels(): Promise<CachedModelInfo[]>;
  deleteCachedModel(id: string, revision?: string, format?: WeightFormat): Promise<number>;
  /** Device losses seen and recovered from. */
  status(): Promise<HostHealth>;
  /** Test hook: lose the GPU device as a driver reset would (the engine reloads the model by itself). */
  simulateDeviceLoss(): Promise<void>;
  /** Stop the Worker; the engine is unusable afterwards. */
  terminate(): void;
}

let nextRequest = 0;

/** Relative URLs mean the page's location, not the Worker script's: resolve them here (other text goes on, to be refused). */
function absolute(m: ModelRef): ModelRef {
  const page = globalThis.location?.href;
  if (!page) return m;
  if (typeof m === 'string') return isHubRepoId(m) || !isUrlLike(m) ? m : new URL(m.trim(), page).href;
  if ('url' in m) return { url: new URL(m.url, page).href };
  return m;
}

/** Start an engine in the Worker that `spawn` returns (see src/client/index.ts and src/embed/ for the two builds). */
export function createEngineWith(spawn: () => Worker, options: EngineOptions = {}): XQuantEngine {
  installErrorTransfer();
  const worker = spawn();
  const remote = Comlink.wrap<WorkerApi>(worker);

  /** Run a request with an id the signal can abort. */
  const withAbort = async <T>(signal: AbortSignal | undefined, call: (id: string) => Promise<T>): Promise<T> => {
    const id = `r${++nextRequest}`;
    if (signal?.aborted) throw new AbortedError('the request (signal already aborted)');
    const onAbort = () => void remote.abort(id);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await call(id);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  };

  /**
   * Turn a pushed stream into an AsyncIterable: chunks queue up until read; the stream ends at the `end`
   * or `error` event, which arrive on the same channel as the chunks (the call's own result does not).
   */
  const streamOf = <C>(signal: AbortSignal | undefined, start: (id: string, onEvent: (e: StreamEvent<C>) => void) => Promise<unknown>): AsyncIterable<C> => {
    const chunks: C[] = [];
    let done = false;
    let failure: unknown = null;
    let wake: (() => void) | null = null;
    const onEvent = (e: StreamEvent<C>) => {
      if ('chunk' in e) chunks.push(e.chunk);
      else {
        done = true;
        if ('error' in e) failure = e.error.code ? deserializeEngineError(e.error) : Object.assign(new Error(String(e.error.message)), { name: e.error.name });
      }
      wake?.();
      wake = null;
    };
    // The result travels in-band; a rejection here is the same error, already delivered as an event.
    withAbort(signal, (id) => start(id, onEvent)).catch(() => {});
    return {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          if (chunks.length) yield chunks.shift()!;
          else if (done) {
            if (failure) throw failure;
            return;
          } else await new Promise<void>((r) => (wake = r));
        }
      },
    };
  };

  const split = <T extends { signal?: AbortSignal }>(r: T): [Omit<T, 'signal'>, AbortSignal | undefined] => {
    const { signal, ...rest } = r;
    return [rest, signal];
  };

  const chatCreate = (async (r: WithSignal<ChatCompletionRequest>) => {
    const [req, signal] = split(r);
    if (req.stream) return streamOf<ChatCompletionChunk>(signal, (id, push) => remote.chatCompletion(id, req, Comlink.proxy(push)));
    return withAbort(signal, (id) => remote.chatCompletion(id, req));
  }) as ChatCompletions['create'];

  const completionCreate = (async (r: WithSignal<CompletionRequest>) => {
    const [req, signal] = split(r);
    if (req.stream) return streamOf<CompletionChunk>(signal, (id, push) => remote.completion(id, req, Comlink.proxy(push)));
    return withAbort(signal, (id) => remote.completion(id, req));
  }) as Completions['create'];

  return {
    load(model, o = {}) {
      const { signal, onProgress, ...rest } = o;
      return withAbort(signal, (id) =>
        remote.load(
          id,
          absolute(model),
          { ...rest, kernels: rest.kernels ?? options.kernels, hubBase: options.hubBase },
          onProgress ? Comlink.proxy(onProgress) : undefined,
        ),
      );
    },
    chat: { completions: { create: chatCreate } },
    completions: { create: completionCreate },
    perplexity(text, o = {}) {
      const [rest, signal] = split(o);
      return withAbort(signal, (id) => remote.perplexity(id, text, rest));
    },
    memory: (context) => remote.memory(context),
    setMemoryBudget: (mb) => remote.setMemoryBudget(mb),
    prepareMode: (cache) => remote.prepareMode(`r${++nextRequest}`, cache),
    calibrate: () => remote.calibrate(`r${++nextRequest}`),
    score(r) {
      const [rest, signal] = split(r);
      return withAbort(signal, (id) => remote.score(id, rest as ScoreRequest));
    },
    saveConversation: () => remote.saveConversation(`r${++nextRequest}`),
    savedConversations: () => remote.savedConversations(),
    deleteSavedConversations: (key) => remote.deleteSavedConversations(`r${++nextRequest}`, key),
    unload: () => remote.unload(`r${++nextRequest}`),
    listCachedModels: () => remote.listCachedModels(),
    deleteCachedModel: (id, revision, format) => remote.deleteCachedModel(id, revision, format),
    status: () => remote.status(),
    simulateDeviceLoss: () => remote.simulateDeviceLoss(),
    terminate: () => worker.terminate(),
  };
}
