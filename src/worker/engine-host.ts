// What the engine Worker serves, independent of the Worker itself so Node tests can drive it: model
// loading through the weight cache, OpenAI-style chat and text completions (streamed by pushing chunks to
// a callback), perplexity, memory, a request queue with abort by request id.

import { DEFAULT_BUDGET_MB, Engine, type GenerationStats, type MemoryInfo, type ModelSummary, type ModeReady, type ScoreResult } from '../engine/engine';
import type { DeviceProfile } from '../engine/device-profile';
import { namedCache } from '../engine/planner';
import {
  chatLogprobs,
  checkMessages,
  DEFAULT_MAX_TOKENS,
  checkRequestFields,
  choiceSeeds,
  completionLogprobs,
  logprobsOf,
  requestTools,
  templateKwargs,
  templateMessages,
  toolCallConstraint,
  completionId,
  generateRequest,
  usageOfChoices,
  type ChatCompletion,
  type FinishReason,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  type Completion,
  type CompletionChunk,
  type CompletionRequest,
} from '../engine/openai';
import { checkModeFits } from '../cache/cache-config';
import { EngineError, GpuOutOfMemoryError, InvalidArgumentError, throwIfAborted, UnsupportedFieldError } from '../errors';
import { ReasoningStream, splitReasoning } from '../engine/reasoning';
import { parseToolCalls, TOOL_CALL_SHAPES, ToolCallStream } from '../engine/tool-calls';
import type { TokenLogprob } from '../engine/sampling';
import type { ConstraintSpec } from '../grammar/constraint';
import type { PerplexityResult } from '../eval/perplexity';
import { webGpuBackends } from '../webgpu/backend';
import type { ShaderLibrary } from '../webgpu/shader-library';
import { resolveModelRef, type ModelRef } from '../model/model-ref';
import { withContextLength } from '../model/model-spec';
import { parseWeightFormat, type WeightFormat } from '../quant/weight-format';
import type { ChunkStore } from '../storage/chunk-store';
import { defaultWeightFormat, downloadTracker, loadPreparedModel, type LoadProgress, type LoadTimings, type StorageReport } from '../storage/model-loader';
import { WeightCache, type CachedModelInfo } from '../storage/weight-cache';
import type { SavedConversationInfo } from '../storage/conversation-cache';
import { RequestQueue } from './request-queue';
import { parseKernelChoice, type KernelFamily } from '../webgpu/kernel-family';
import type { ChatMessage } from '../tokenizer/tokenizer';

export interface LoadOptions {
  /** Weight format on the GPU (default q8: a quarter of f32's memory, perplexity within 0.1% on stories260K). */
  weights?: WeightFormat;
  /** Default cache mode of requests ('auto' by default). */
  cache?: string;
  /** GPU memory the cache may use (default 256). */
  memoryBudgetMB?: number;
  /**
   * The longest context this load runs (llama.cpp's n_ctx; default: the model's own): requests, chat history trimming
   * and `auto` plan against it. A longrope model (Phi-3.5, Phi-4-mini) past its trained 4,096 tokens runs its long
   * RoPE factors at every position, as llama.cpp does.
   */
  contextLength?: number;
  /** The perplexity cost `auto` may accept for speed, as a fraction (default 0.01: +1%). */
  accuracyBound?: number;
  /** Hugging Face base address for repo ids (default https://huggingface.co). */
  hubBase?: string;
  /** Use the IndexedDB weight cache (default true). */
  useCache?: boolean;
  /** Compile the kernels of fp16, `cache` and `prepare` during load (default true). */
  warmup?: boolean;
  /** More cache modes whose kernels compile during load, so a switch to them does not wait (e.g. a demo's featured mode). */
  prepare?: string[];
  /** Kernel family: 'auto' (default: from the adapter), 'rowwise' (CPU-emulated WebGPU) or 'tiled' (real GPUs). */
  kernels?: string;
  /**
   * f16 arithmetic in the tiled family's prefill GEMM tiles and decode GEMVs, and f16-staged attention queries, where
   * the device has shader-f16 (default false).
   */
  f16Math?: boolean;
}

export type ScoreRequest = ({ messages: ChatMessage[] } | { prompt: string | number[] }) & { continuation: string | number[]; cache?: string };

export interface LoadResult extends ModelSummary {
  id: string;
  revision: string;
  storage: StorageReport;
  seconds: number;
  /** Seconds per part of the load (read, pack, store and upload interleave; compile follows). */
  phases: LoadTimings & { compile: number };
}

/**
 * What a streamed request pushes, in order, through one callback: its chunks, then `end` or `error`.
 * Everything travels on the callback's own channel, so the end never overtakes a chunk (a Comlink call's
 * result and a proxied callback use different ports, which do not keep order between them).
 */
export type StreamEvent<C> = { chunk: C } | { end: true } | { error: Record<string, unknown> };
export interface HostHealth {
  deviceLosses: number;
  recoveries: number;
  lastLoss: string;
  /** How the last recovery loaded the model ('hit': from the weight cache), or why it failed. */
  lastRecovery: string;
  /** A model is loaded on a live device. */
  loaded: boolean;
  /** The loaded model's name, or null. */
  model: string | null;
  /** Compute pipelines compiled for the loaded model so far. */
  compiledKernels: number;
  /** The loaded model's kernel family, or null. */
  kernels: KernelFamily | null;
}

type Callback<T> = ((value: T) => unknown) | undefined;
type Push<C> = Callback<StreamEvent<C>>;

export class EngineHost {
  private readonly engine: Engine;
  private readonly queue = new RequestQueue();
  private readonly weightCache: WeightCache | null;
  private defaultCache = 'auto';
  private modelName = '';
  private lastLoad: { model: ModelRef; o: LoadOptions } | null = null;
  private readonly health = { deviceLosses: 0, recoveries: 0, lastLoss: '', lastRecovery: '' };

  constructor(
    gpu: GPU | undefined,
    shaders: ShaderLibrary,
    store: ChunkStore | null,
    /** Where relative model URLs resolve from. */
    private readonly baseUrl: string,
    /** Where saveConversation() keeps caches (IndexedDB in the Worker); null: saving is off. */
    conversations: ChunkStore | null = null,
    /** Where calibrate() keeps measured device profiles; null: each load starts from the stated default. */
    deviceProfiles: ChunkStore | null = null,
  ) {
    this.engine = new Engine(webGpuBackends(gpu, shaders), { savedConversations: conversations ?? undefined, deviceProfiles: deviceProfiles ?? undefined });
    this.engine.onDeviceLost = (reason) => this.recover(reason);
    this.weightCache = store ? new WeightCache(store) : null;
  }

  load(requestId: string, model: ModelRef, o: LoadOptions = {}, onProgress?: (p: LoadProgress) => unknown): Promise<LoadResult> {
    return this.queue.run(requestId, async (signal) => {
      const r = await this.loadNow(model, o, signal, (p) => push(onProgress, p));
      this.lastLoad = { model, o };
      return r;
    });
  }

  /**
   * Load a model; the one loaded before stays loaded until the new one is on the device. Where both cannot be
   * resident (the device runs out of memory with both), the old one is unloaded and the new one tried alone;
   * if that fails too, the old one is loaded again (from the weight cache) and the error is thrown.
   */
  private async loadNow(model: ModelRef, o: LoadOptions, signal: AbortSignal | undefined, report: (p: LoadProgress) => void): Promise<LoadResult> {
    const started = performance.now();
    // Checked before anything is fetched; against the model's own context once its config is read.
    if (o.contextLength !== undefined && !(Number.isSafeInteger(o.contextLength) && o.contextLength >= 1)) {
      throw new InvalidArgumentError('must be a positive whole number of tokens', { field: 'contextLength', got: String(o.contextLength) });
    }
    const resolved = resolveModelRef(model, this.baseUrl, { hubBase: o.hubBase, signal, onProgress: downloadTracker(report) });
    const format = o.weights === undefined ? undefined : parseWeightFormat(o.weights);
    const kernels = parseKernelChoice(o.kernels ?? 'auto');
    const budgetMB = o.memoryBudgetMB ?? DEFAULT_BUDGET_MB;
    const defaultCache = o.cache ?? 'auto';
    const prepare = async () => {
      const prepared = await loadPreparedModel({
        resolved,
        format: format ?? defaultWeightFormat(resolved.source),
        cache: o.useCache === false ? null : this.weightCache,
        signal,
        onProgress: report,
      });
      throwIfAborted(signal, 'load');
      if (o.contextLength !== undefined) prepared.model = { ...prepared.model, spec: withContextLength(prepared.model.spec, o.contextLength) };
      // A mode the new model cannot run (xquant-gqa on an MHA model, one too large for the budget) fails the
      // load before the model replaces the loaded one, not in the compile step after it.
      for (const mode of [defaultCache, ...(o.prepare ?? [])]) {
        if (mode !== 'auto') checkModeFits(prepared.model.spec, namedCache(prepared.model.spec, mode, 1, budgetMB * 2 ** 20));
      }
      return prepared;
    };
    const put = async (p: Awaited<ReturnType<typeof prepare>>) =>
      this.engine.load(p.model, { memoryBudgetMB: budgetMB, accuracyBound: o.accuracyBound, timings: p.timings, kernels, f16Math: o.f16Math });
    let prepared = await prepare();
    let summary: ModelSummary;
    try {
      // Download (or cache read), packing, storing and upload run together, tensor by tensor.
      summary = await put(prepared);
    } catch (e) {
      if (!(e instanceof GpuOutOfMemoryError) || !this.engine.isLoaded) throw e;
      const previous = this.lastLoad;
      this.engine.unload();
      try {
        prepared = await prepare();
        summary = await put(prepared);
      } catch (alone) {
        // Say what became of the model loaded before: loaded again, or not (then nothing is loaded).
        if (previous && alone instanceof EngineError) {
          const before = this.modelName;
          alone.message += await this.loadNow(previous.model, { ...previous.o, warmup: false }, undefined, () => {}).then(
            (r) => `; ${r.name}, loaded before, was loaded again`,
            (e: unknown) => `; ${before}, loaded before, could not be loaded again (${(e as Error).message}): no model is loaded`,
          );
        }
        throw alone;
      }
    }
    // The new model is loaded: the host's state says so from here on, even if compiling below fails.
    this.lastLoad = { model, o };
    this.defaultCache = defaultCache;
    this.modelName = resolved.name;
    const { storage, timings } = prepared;
    report({ phase: 'upload', loaded: 1, total: 1 });
    const compileStart = performance.now();
    if (o.warmup !== false) {
      // fp16's kernels, the default mode's and the asked-for ones, all in parallel, so none stalls a first request.
      const modes = [...new Set(['fp16', ...(o.cache ? [o.cache] : []), ...(o.prepare ?? [])])];
      report({ phase: 'compile', loaded: 0, total: modes.length });
      let done = 0;
      await Promise.all(modes.map((m) => this.engine.prepareMode(m).then(() => report({ phase: 'compile', loaded: ++done, total: modes.length }))));
    }
    const compile = (performance.now() - compileStart) / 1000;
    return {
      ...summary,
      id: resolved.id,
      revision: resolved.revision,
      storage: storage(),
      seconds: (performance.now() - started) / 1000,
      phases: { ...timings, compile },
    };
  }

  /** The device was lost: queue a reload of the same model (from the weight cache) before any later request. */
  private recover(reason: string): void {
    const last = this.lastLoad;
    if (!last) return;
    this.health.deviceLosses += 1;
    this.health.lastLoss = reason;
    this.queue
      .run(`recover-${this.health.deviceLosses}`, async () => {
        // A load queued before this job has replaced the lost model: nothing to recover.
        if (this.lastLoad !== last) return;
        const r = await this.loadNow(last.model, { ...last.o, warmup: false }, undefined, () => {});
        this.health.recoveries += 1;
        this.health.lastRecovery = r.storage.state;
      })
      .catch((e: unknown) => {
        this.health.lastRecovery = `failed: ${(e as Error).message}`;
      });
  }

  /** Device losses seen and recoveries made (for the UI and tests). */
  status(): HostHealth {
    return {
      ...this.health,
      loaded: this.engine.isLoaded && this.engine.lostReason === null,
      model: this.engine.isLoaded ? this.modelName : null,
      compiledKernels: this.engine.compiledKernels,
      kernels: this.engine.kernels,
    };
  }

  /** Test hook: lose the GPU device as a driver reset would; the engine recovers by itself. */
  simulateDeviceLoss(): void {
    this.engine.loseDevice();
  }

  /** Non-streaming: resolves to the completion. Streaming (`stream: true`): pushes chunks to `onChunk`, resolves to null after the last. */
  chatCompletion(requestId: string, r: ChatCompletionRequest, onEvent?: Push<ChatCompletionChunk>): Promise<ChatCompletion | null> {
    const onChunk = (c: ChatCompletionChunk) => push(onEvent, { chunk: c });
    return this.streamed(
      onEvent,
      r.stream,
      this.queue.run(requestId, async (signal) => {
        checkRequestFields(r, 'chat');
        checkMessages(r.messages);
        const tools = requestTools(r);
        const kwargs = templateKwargs(r);
        const thinks = this.engine.thinks;
        const top = logprobsOf(r, 'chat');
        const lp = (entries: readonly TokenLogprob[]) =>
          top === undefined ? {} : { logprobs: { content: chatLogprobs(entries, (id) => this.engine.tokenText(id)) } };
        const format = tools ? this.engine.toolCallFormat() : null;
        if (tools && !format) {
          throw new UnsupportedFieldError("this model's chat template teaches no tool-call format the engine reads", {
            field: 'tools',
            expected: "a model whose template uses Qwen's <tool_call> blocks, Llama-3's JSON calls or Phi-4-mini's tool list",
          });
        }
        // A forced call: the reply is constrained to calls in the template's format.
        const forced = format ? toolCallConstraint(r, TOOL_CALL_SHAPES[format]) : undefined;
        // truncation 'auto': old messages are dropped whole to fit the context (the engine then cuts nothing).
        const fitted =
          r.truncation === 'auto'
            ? this.engine.fitChatPrompt(
                templateMessages(r.messages),
                r.max_tokens ?? r.max_completion_tokens ?? DEFAULT_MAX_TOKENS,
                tools,
                r.reuse !== false,
                kwargs,
              )
            : { ids: this.engine.chatPrompt(templateMessages(r.messages), tools, r.reuse !== false, kwargs), dropped: 0, droppedTokens: 0 };
        const prompt = fitted.ids;
        const seeds = choiceSeeds(r);
        const id = completionId('chatcmpl');
        const head = { id, object: 'chat.completion.chunk' as const, created: nowSeconds(), model: this.modelName };
        const choices: ChatCompletion['choices'] = [];
        const allStats: GenerationStats[] = [];
        // Choice after choice, each with its seed (n > 1), each streamed under its index.
        for (const [index, seed] of seeds.entries()) {
          // Log-probabilities of tokens whose text is not sent yet wait for the next chunk.
          let unsent: TokenLogprob[] = [];
          const send = (delta: ChatCompletionChunk['choices'][number]['delta'], finish: FinishReason | null = null, last = false) => {
            onChunk({
              ...head,
              choices: [{ index, delta, finish_reason: finish, ...(delta.content ? lp(unsent) : {}) }],
              ...(last ? { usage: usageOfChoices(allStats) } : {}),
            });
            if (delta.content) unsent = [];
          };
          if (r.stream) send({ role: 'assistant' });
          // Streamed with tools, text that may be a call is held back until the reply ends (src/engine/tool-calls.ts);
          // a reasoning model's thinking goes out as reasoning_content before that (src/engine/reasoning.ts).
          const calls = r.stream && format ? new ToolCallStream(format) : null;
          const thinking = r.stream && thinks ? new ReasoningStream() : null;
          const answer = (text: string) => (calls ? calls.push(text) : text);
          let recorded = 0;
          const stats = await this.run(prompt, { ...r, seed, truncation: 'disabled' }, signal, top, forced, (text, fresh) => {
            if (!r.stream) return;
            unsent.push(...fresh);
            recorded += fresh.length;
            const split = thinking ? thinking.push(text) : { reasoning: null, content: text };
            if (split.reasoning) send({ reasoning_content: split.reasoning });
            const shown = split.content ? answer(split.content) : '';
            if (shown) send({ content: shown });
          });
          stats.truncatedMessages = fitted.dropped;
          stats.truncatedTokens = fitted.droppedTokens;
          allStats.push(stats);
          if (r.stream) {
            unsent.push(...(stats.logprobs?.slice(recorded) ?? []));
            const rest = thinking?.finish() ?? { reasoning: null, content: '' };
            if (rest.reasoning) send({ reasoning_content: rest.reasoning });
            const tail = rest.content ? answer(rest.content) : '';
            if (tail) send({ content: tail });
            const end = calls?.finish() ?? { content: '', toolCalls: [] };
            if (end.content) send({ content: end.content });
            if (end.toolCalls.length) send({ tool_calls: end.toolCalls.map((c, i) => ({ index: i, ...c })) });
            send({}, end.toolCalls.length ? 'tool_calls' : stats.finishReason, index === seeds.length - 1);
            continue;
          }
          // Not streamed: the finished reply is parsed once.
          const split = thinks ? splitReasoning(stats.text) : { reasoning: null, content: stats.text };
          const parsed = format ? parseToolCalls(split.content, format) : null;
          const reasoning = split.reasoning === null ? {} : { reasoning_content: split.reasoning };
          const message = parsed?.toolCalls.length
            ? { role: 'assistant' as const, content: parsed.content ?? '', ...reasoning, tool_calls: parsed.toolCalls }
            : { role: 'assistant' as const, content: split.content, ...reasoning };
          choices.push({ index, message, finish_reason: parsed?.toolCalls.length ? 'tool_calls' : stats.finishReason, ...lp(stats.logprobs ?? []) });
        }
        if (r.stream) return null;
        return { id, object: 'chat.completion', created: head.created, model: this.modelName, choices, usage: usageOfChoices(allStats) };
      }),
    );
  }

  completion(requestId: string, r: CompletionRequest, onEvent?: Push<CompletionChunk>): Promise<Completion | null> {
    const onChunk = (c: CompletionChunk) => push(onEvent, { chunk: c });
    return this.streamed(
      onEvent,
      r.stream,
      this.queue.run(requestId, async (signal) => {
        checkRequestFields(r, 'completion');
        const head = { id: completionId('cmpl'), object: 'text_completion' as const, created: nowSeconds(), model: this.modelName };
        const seeds = choiceSeeds(r);
        const top = logprobsOf(r, 'completion');
        const text = (id: number) => this.engine.tokenText(id);
        const choices: Completion['choices'] = [];
        const allStats: GenerationStats[] = [];
        for (const [index, seed] of seeds.entries()) {
          let offset = 0;
          let recorded = 0;
          const stats = await this.run(r.prompt, { ...r, seed }, signal, top, undefined, (delta, fresh) => {
            if (!r.stream) return;
            const logprobs = top === undefined ? {} : { logprobs: completionLogprobs(fresh, text, offset) };
            onChunk({ ...head, choices: [{ index, text: delta, finish_reason: null, ...logprobs }] });
            offset += fresh.reduce((a, e) => a + text(e.id).length, 0);
            recorded += fresh.length;
          });
          allStats.push(stats);
          const last = index === seeds.length - 1;
          const rest =
            top === undefined ? {} : { logprobs: completionLogprobs(stats.logprobs?.slice(r.stream ? recorded : 0) ?? [], text, r.stream ? offset : 0) };
          if (r.stream)
            onChunk({
              ...head,
              choices: [{ index, text: '', finish_reason: stats.finishReason, ...rest }],
              ...(last ? { usage: usageOfChoices(allStats) } : {}),
            });
          else choices.push({ index, text: stats.text, finish_reason: stats.finishReason, token_ids: stats.ids, ...rest });
        }
        if (r.stream) return null;
        return { ...head, choices, usage: usageOfChoices(allStats) };
      }),
    );
  }

  /** For a streamed request, end the event stream with `end` or `error` after the chunks. */
  private async streamed<T, C>(onEvent: Push<C>, stream: boolean | undefined, work: Promise<T>): Promise<T> {
    try {
      const r = await work;
      if (stream) push(onEvent, { end: true });
      return r;
    } catch (e) {
      if (stream)
        push(onEvent, { error: e instanceof EngineError ? e.toJSON() : { name: (e as Error)?.name ?? 'Error', message: String((e as Error)?.message ?? e) } });
      throw e;
    }
  }

  private async run(
    prompt: number[] | string,
    r: CompletionRequest | ChatCompletionRequest,
    signal: AbortSignal,
    top: number | undefined,
    forced: ConstraintSpec | undefined,
    onText: (t: string, logprobs: TokenLogprob[]) => unknown,
  ): Promise<GenerationStats> {
    const into: TokenLogprob[] = [];
    let sent = 0;
    const request = generateRequest(prompt, { ...r, cache: r.cache ?? this.defaultCache }, signal);
    if (top !== undefined) request.logprobs = { top, into };
    if (forced) request.constraint = forced;
    const it = this.engine.stream(request);
    try {
      for (;;) {
        const step = await it.next();
        if (step.done) return step.value;
        onText(step.value, into.slice(sent, (sent = into.length)));
      }
    } finally {
      // A throwing onText leaves the generator suspended: finishing it closes (or keeps) its session.
      await it.return(undefined as never).catch(() => {});
    }
  }

  perplexity(
    requestId: string,
    text: string,
    o: { ctx?: number; windows?: number; cache?: string } = {},
  ): Promise<PerplexityResult & { cache: string; ctx: number }> {
    return this.queue.run(requestId, (signal) => this.engine.perplexity(text, { ...o, cache: o.cache ?? this.defaultCache, signal }));
  }

  /**
   * Mean NLL of `continuation` (text, encoded without BOS, or token ids) after a prompt (chat messages through
   * the chat template, text, or ids) under a cache mode, teacher-forced (Engine.score).
   */
  score(requestId: string, r: ScoreRequest): Promise<ScoreResult> {
    return this.queue.run(requestId, (signal) => {
      const prompt =
        'messages' in r
          ? (checkMessages(r.messages), this.engine.chatPrompt(r.messages))
          : typeof r.prompt === 'string'
            ? this.engine.encode(r.prompt)
            : r.prompt;
      const continuation = typeof r.continuation === 'string' ? this.engine.encodeContinuation(r.continuation) : r.continuation;
      return this.engine.score(prompt, continuation, { cache: r.cache ?? this.defaultCache, signal });
    });
  }

  /**
   * Measure this GPU's throughput with the loaded model's decode steps, queued like a request: the planner's speed
   * estimates use it from now on, and later loads on the same adapter start with it (kept in IndexedDB).
   */
  calibrate(requestId: string): Promise<DeviceProfile> {
    return this.queue.run(requestId, () => this.engine.calibrate());
  }

  /** Compile a cache mode's kernels (and make its factors) before it is used, queued like a request. */
  prepareMode(requestId: string, cache: string): Promise<ModeReady> {
    return this.queue.run(requestId, () => this.engine.prepareMode(cache));
  }

  /** The cache's GPU memory budget (MiB) for the requests after this one (a request in flight keeps its own). */
  setMemoryBudget(mb: number): void {
    this.engine.setMemoryBudget(mb);
  }

  memory(context?: number): MemoryInfo {
    return this.engine.memory(context);
  }

  /** Save the conversation the last request left in the cache (queued after the requests before it). */
  saveConversation(requestId: string): Promise<SavedConversationInfo> {
    return this.queue.run(requestId, () => this.engine.saveConversation());
  }

  savedConversations(): SavedConversationInfo[] {
    return this.engine.savedConversations();
  }

  deleteSavedConversations(requestId: string, key?: string): Promise<void> {
    return this.queue.run(requestId, () => this.engine.deleteSavedConversations(key));
  }

  unload(requestId: string): Promise<void> {
    return this.queue.run(requestId, async () => {
      this.lastLoad = null;
      this.engine.unload();
    });
  }

  abort(requestId: string): boolean {
    return this.queue.abort(requestId);
  }

  listCachedModels(): Promise<CachedModelInfo[]> {
    return this.weightCache ? this.weightCache.list() : Promise.resolve([]);
  }

  deleteCachedModel(id: string, revision?: string, format?: WeightFormat): Promise<number> {
    return this.weightCache ? this.weightCache.delete(id, revision, format) : Promise.resolve(0);
  }
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Call a (possibly remote) callback without waiting for it: chunks are pushed, not pulled. */
function push<T>(fn: Callback<T>, value: T): void {
  if (!fn) return;
  try {
    void Promise.resolve(fn(value)).catch(() => {});
  } catch {
    // a callback that throws must not stop the generation
  }
}
