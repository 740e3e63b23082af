// The engine a Worker (or a Node process) runs: one prepared model on one device backend; streamed
// generation with stop strings, perplexity and memory planning. It knows nothing about where it runs:
// the backend factory (src/webgpu/backend.ts's webGpuBackends in the Worker) and the prepared model are handed in.

import { cacheModeName, parseCacheMode, type CacheConfig } from '../cache/cache-config';
import { exactPrefix } from '../cache/keep';
import { AbortedError, EngineError, InvalidArgumentError, SavedCacheError, throwIfAborted } from '../errors';
import { evaluatePerplexity, type PerplexityResult } from '../eval/perplexity';
import { logSumExp } from '../reference/ops';
import type { DecodeSession } from './backend';
import { IncrementalDecoder } from '../tokenizer/incremental-decoder';
import type { ChatMessage, ToolDefinition } from '../tokenizer/tokenizer';
import { toolCallFormat, type ToolCallFormat } from './tool-calls';
import type { PreparedModel } from './prepared-model';
import { DEFAULT_PROFILE, ProfileCache, type DeviceProfile } from './device-profile';
import { chatPromptIds, fitMessages, slidingWindow, type FittedPrompt } from './prompt';
import { templateThinks } from './reasoning';
import {
  accuracyBoundOf,
  autoCacheMode,
  budgetBytesOf,
  cacheBytesFor,
  capacity,
  DEFAULT_ACCURACY_BOUND,
  namedCache,
  planCache,
  type PlanOptions,
} from './planner';
import { GREEDY, Sampler, checkSampling } from './sampling';
import { ConstraintCache, type ConstraintSpec, vocabularyFromTexts } from '../grammar/constraint';
import { SessionPool, type KeptSession } from './session-pool';
import type { ChunkStore } from '../storage/chunk-store';
import { ConversationCache, type SavedConversationInfo } from '../storage/conversation-cache';
import { sha256Hex } from '../storage/sha256';
import { fingerprinted } from '../quant/weight-stream';
import { StopMatcher } from './stop-matcher';
import type { BackendFactory, EngineBackend } from './backend';
import type { KernelFamily } from '../webgpu/kernel-family';

import {
  DEFAULT_BUDGET_MB,
  DEFAULT_CONTEXT_SHIFT,
  type EngineLoadOptions,
  type GenerateRequest,
  type GenerationStats,
  type MemoryInfo,
  type ModelSummary,
  type ModeReady,
  type ScoreResult,
} from './engine-types';

export * from './engine-types';

export class Engine {
  private model: PreparedModel | null = null;
  /** Where the loaded model's replies end (TextTokenizer.endOfReplyIds). */
  private stopIds: readonly number[] = [];
  private backend: EngineBackend | null = null;
  private budgetBytes = DEFAULT_BUDGET_MB * 2 ** 20;
  private accuracyBound = DEFAULT_ACCURACY_BOUND;
  private profile: DeviceProfile = DEFAULT_PROFILE;
  /** Constraints compiled against the loaded model's vocabulary (made on the first constrained request). */
  private constraints: ConstraintCache | null = null;
  /** Conversations kept between requests for prefix reuse (on the loaded backend). */
  private readonly pool = new SessionPool();
  /** Set when the loaded model's device was lost (not by unload): the engine needs a reload. */
  lostReason: string | null = null;
  /** Called once per lost device; the Worker host reloads the model from the weight cache. */
  onDeviceLost: ((reason: string) => void) | null = null;

  /** Where saveConversation() keeps caches (IndexedDB in the Worker); null: saving is off. */
  private readonly saved: ConversationCache | null;
  /** Measured device profiles by adapter (IndexedDB in the Worker). */
  private readonly profiles: ProfileCache;
  constructor(
    private readonly backends: BackendFactory,
    o: { savedConversations?: ChunkStore; deviceProfiles?: ChunkStore } = {},
  ) {
    this.saved = o.savedConversations ? new ConversationCache(o.savedConversations) : null;
    this.profiles = new ProfileCache(o.deviceProfiles ?? null);
  }

  /**
   * Put a model on a device. The model loaded before stays loaded and usable until the new one is on its
   * device: a load that fails (bad files, a network error, an abort, no device memory) leaves it as it was.
   */
  async load(model: PreparedModel, o: EngineLoadOptions = {}): Promise<ModelSummary> {
    const budgetBytes = budgetBytesOf(o.memoryBudgetMB ?? DEFAULT_BUDGET_MB);
    const accuracyBound = accuracyBoundOf(o.accuracyBound);
    // The weights stream from their source into GPU buffers; no CPU copy of them outlives this call.
    const weights = fingerprinted(model.weights);
    const backend = await this.backends({ ...model, weights: weights.stream }, { timings: o.timings, kernels: o.kernels, f16Math: o.f16Math });
    // The model's identity for saved conversations: name, spec and the weights' fingerprint.
    const identity = `${model.name}\n${JSON.stringify(model.spec)}\n${weights.fingerprint()}`;
    const modelKey = (await sha256Hex(new TextEncoder().encode(identity))).slice(0, 32);
    // A store that cannot be read (a private window's IndexedDB) turns saving off for this load; it does not fail it.
    await this.saved?.open(modelKey).catch((e) => this.saved?.note(`saved conversations cannot be read: ${String(e)}`));
    const profile = (await this.profiles.load(backend.adapter, backend.kernels)) ?? DEFAULT_PROFILE;
    const previous = this.backend;
    this.pool.clear();
    this.model = model;
    this.stopIds = model.tokenizer.endOfReplyIds(model.spec.eosTokenIds, model.spec.vocabSize);
    this.backend = backend;
    this.budgetBytes = budgetBytes;
    this.accuracyBound = accuracyBound;
    this.profile = profile;
    this.constraints = null;
    this.lostReason = null;
    previous?.destroy();
    void backend.lost.then((reason) => {
      if (this.backend !== backend) return; // unloaded or replaced: an intended destroy
      this.pool.clear();
      this.lostReason = reason;
      this.onDeviceLost?.(this.lostReason);
    });
    return {
      name: model.name,
      spec: model.spec,
      weights: model.weights.format,
      adapter: backend.adapter,
      kernels: backend.kernels,
      f16Math: backend.f16Math,
      memory: backend.memoryReport(),
      hasChatTemplate: model.tokenizer.hasChatTemplate,
    };
  }

  /** The GPU memory the cache may use from now on (MiB): `auto` and memory() plan against it. */
  setMemoryBudget(mb: number): void {
    this.budgetBytes = budgetBytesOf(mb);
  }

  /** `auto`'s pick for the model's whole context; fp16 when no mode holds it (requests then plan their own length). */
  private autoForWholeContext(): CacheConfig {
    try {
      return this.resolveCache('auto', this.loaded().model.spec.maxPositionEmbeddings);
    } catch {
      return parseCacheMode('fp16');
    }
  }

  /**
   * What the planner weighs besides the budget: no cache buffer may pass one storage binding, hot tiers only on
   * WebGPU, this device's throughput (stated until calibrate() measures it) and the weights a step reads.
   */
  private planOptions(): PlanOptions {
    const { backend } = this.loaded();
    return {
      device: { maxBindingBytes: backend.maxBindingBytes, tiers: backend.name === 'webgpu' },
      profile: this.profile,
      weightBytes: backend.memoryReport().weights,
      accuracyBound: this.accuracyBound,
    };
  }

  /** The device figures the planner's speed estimates use. */
  get deviceProfile(): DeviceProfile {
    return this.profile;
  }

  /**
   * Measure this device's throughput with the loaded model's own decode steps (seconds on a CPU adapter, less on a
   * GPU), plan with it from now on, and keep it for this adapter so later loads start with it.
   */
  async calibrate(): Promise<DeviceProfile> {
    const { backend } = this.loaded();
    if (!backend.calibrate) return this.profile;
    this.profile = await backend.calibrate();
    await this.profiles.save(backend.adapter, backend.kernels, this.profile);
    return this.profile;
  }

  /** Compile fp16's kernels so the first request does not wait for them. */
  async warmup(): Promise<void> {
    await this.prepareMode('fp16');
  }

  /**
   * Make a cache mode ready before a request uses it: its once-per-model work (xquant-gqa's factors) and
   * every kernel its forwards use, compiled asynchronously and in parallel. `auto` is the mode the planner
   * picks for the model's whole context in the budget.
   */
  async prepareMode(name: string): Promise<ModeReady> {
    const { backend } = this.loaded();
    const started = performance.now();
    // resolveCache: a mode whose fixed buffers (a hot tier, a residual window) pass the budget fails here, before any allocation.
    const config = name === 'auto' ? this.autoForWholeContext() : this.resolveCache(name, 1);
    const kernels = await backend.compileMode(config);
    return { cache: cacheModeName(config), kernels, seconds: (performance.now() - started) / 1000 };
  }

  private loaded(): { model: PreparedModel; backend: EngineBackend } {
    if (!this.model || !this.backend) throw new InvalidArgumentError('no model is loaded', { field: 'model', expected: 'load() first' });
    return { model: this.model, backend: this.backend };
  }

  /**
   * Prompt ids of a conversation (src/engine/prompt.ts chatPromptIds): where it starts as a kept or saved conversation,
   * that conversation's own ids, so its cache is reused up to the new messages.
   */
  chatPrompt(messages: ChatMessage[], tools?: readonly ToolDefinition[], reuse = true, kwargs: Record<string, unknown> = {}): number[] {
    const histories = reuse ? [...this.pool.histories(), ...(this.saved?.histories() ?? [])] : [];
    return chatPromptIds(this.loaded().model.tokenizer, messages, histories, tools, kwargs);
  }

  /** A chat prompt that fits the context with room for the reply, old messages dropped whole (src/engine/prompt.ts fitMessages). */
  fitChatPrompt(
    messages: ChatMessage[],
    maxTokens: number,
    tools?: readonly ToolDefinition[],
    reuse = true,
    kwargs: Record<string, unknown> = {},
  ): FittedPrompt {
    const context = this.loaded().model.spec.maxPositionEmbeddings;
    return fitMessages((kept) => this.chatPrompt(kept, tools, reuse, kwargs), messages, maxTokens, context);
  }

  /** The tool-call format the loaded model's chat template teaches (null: none the engine reads). */
  toolCallFormat(): ToolCallFormat | null {
    return toolCallFormat(this.loaded().model.tokenizer.templateSource);
  }

  /** Kept conversations and a request needing `bytes` share the budget: the least recently used give way. */
  private makeRoom(bytes: number): void {
    while (this.pool.bytes + bytes > this.budgetBytes && this.pool.evictOne()) {}
  }

  /** The loaded model's compiled constraints (the vocabulary's texts are read on first use). */
  private constraintCache(): ConstraintCache {
    const { model } = this.loaded();
    this.constraints ??= new ConstraintCache(vocabularyFromTexts(model.tokenizer.tokenTexts(), model.spec.vocabSize, this.stopIds), this.stopIds);
    return this.constraints;
  }

  /** Compile a constraint ahead of requests (a GrammarError or UnsupportedFieldError if it is not valid); returns seconds spent. */
  prepareConstraint(spec: ConstraintSpec): number {
    const started = performance.now();
    this.constraintCache().start(spec);
    return (performance.now() - started) / 1000;
  }

  /** A token's text as it reads in a reply (for logprobs). */
  tokenText(id: number): string {
    const { tokenizer } = this.loaded().model;
    return tokenizer.tokenTexts()[id] ?? tokenizer.decode([id], false);
  }

  encode(text: string): number[] {
    return this.loaded().model.tokenizer.encode(text, true);
  }

  /** Text that follows a prompt (a reply): no BOS. */
  encodeContinuation(text: string): number[] {
    return this.loaded().model.tokenizer.encode(text, false);
  }

  /** The cache config for `tokens` tokens: `auto` plans, a named mode must fit the budget (refused before anything is allocated). */
  resolveCache(name: string | undefined, tokens: number): CacheConfig {
    const { model } = this.loaded();
    if (!name || name === 'auto') return autoCacheMode(model.spec, this.budgetBytes, tokens, this.planOptions());
    return namedCache(model.spec, name, tokens, this.budgetBytes);
  }

  /**
   * A request's cache config. For `auto`, a kept conversation this prompt continues keeps its mode while that mode
   * holds the request in the budget (pay for the context once: a new plan would drop the kept cache).
   */
  private requestCache(r: GenerateRequest, promptIds: readonly number[], maxTokens: number): CacheConfig {
    const tokens = promptIds.length + maxTokens;
    if ((r.cache ?? 'auto') === 'auto' && r.reuse !== false) {
      const { model } = this.loaded();
      const device = this.planOptions().device ?? {};
      for (const mode of this.pool.continuedModes(promptIds)) {
        const config = parseCacheMode(mode);
        if (capacity(model.spec, config, this.budgetBytes, device).maxContext >= tokens) return config;
      }
    }
    return this.resolveCache(r.cache, tokens);
  }

  /** Generate, yielding text as it becomes final (never a partial UTF-8 character or a partial stop string). */
  async *stream(r: GenerateRequest): AsyncGenerator<string, GenerationStats> {
    const { model, backend } = this.loaded();
    const started = performance.now();
    const fullPrompt = typeof r.prompt === 'string' ? this.encode(r.prompt) : r.prompt;
    if (fullPrompt.length === 0) throw new InvalidArgumentError('prompt is empty', { field: 'prompt', expected: 'at least one token' });
    if (!(Number.isInteger(r.maxTokens) && r.maxTokens >= 1))
      throw new InvalidArgumentError('must be an integer >= 1', { field: 'max_tokens', got: String(r.maxTokens) });
    const context = model.spec.maxPositionEmbeddings;
    const promptIds = r.truncation === 'auto' ? slidingWindow(fullPrompt, context, r.maxTokens) : fullPrompt;
    if (promptIds.length >= context) {
      throw new InvalidArgumentError("prompt is longer than the model's context", {
        field: 'prompt',
        expected: `at most ${context - 1} tokens`,
        got: `${promptIds.length} tokens`,
      });
    }
    // Generation stops at the context's end (finish_reason 'length').
    const maxTokens = Math.min(r.maxTokens, context - promptIds.length);
    const sampling = r.sampling ?? GREEDY;
    checkSampling(sampling);
    const cache = this.requestCache(r, promptIds, maxTokens);
    for (const id of sampling.penalties?.bias.keys() ?? []) {
      if (id >= model.spec.vocabSize)
        throw new InvalidArgumentError('not a token id of this model', { field: 'logit_bias', expected: `ids below ${model.spec.vocabSize}`, got: String(id) });
    }
    const constraint = r.constraint ? this.constraintCache().start(r.constraint) : null;
    const sampler = new Sampler(sampling, promptIds, constraint, r.logprobs?.top, r.logprobs?.into);
    const stop = new StopMatcher(r.stop ?? []);
    const text = new IncrementalDecoder((ids) => model.tokenizer.decode(ids));
    const ids: number[] = [];
    const modeName = cacheModeName(cache);
    // A kept conversation in this mode that starts like this prompt: keep what it shares, prefill the rest. At least
    // the prompt's last token runs again: its logits choose the first reply token.
    // A conversation whose older messages were dropped to fit: its later entries kept at re-based positions.
    // A backend may still refuse the cut (src/cache/keep.ts canShift: a kept tail shorter than a residual window, a hot
    // tier or a sliding layer's ring): the session, unchanged, then keeps what it exactly can of the tokens before the
    // cut and prefills the rest. (Left in the pool it would hold a history this conversation has moved past.)
    const candidate = r.reuse !== false && (r.contextShift ?? DEFAULT_CONTEXT_SHIFT) === 'keep' ? this.pool.takeShifted(modeName, promptIds) : null;
    // A shift pays only where it then keeps more than the tokens before the cut: a prompt may leave the kept history
    // a few tokens before its end, and there a mode with f16 rings keeps (exactPrefix) nothing, kivi back to a block.
    const kept = (c: NonNullable<typeof candidate>) => {
      const target = Math.min(c.from + c.matched, promptIds.length - 1);
      return exactPrefix(cache, c.kept.ids.length - (c.to - c.from), target) > exactPrefix(cache, c.kept.ids.length, c.from);
    };
    const shift = candidate && kept(candidate) && candidate.kept.session.shift(candidate.from, candidate.to) ? candidate : null;
    if (shift) shift.kept.ids = [...shift.kept.ids.slice(0, shift.from), ...shift.kept.ids.slice(shift.to)];
    let found = shift
      ? { kept: shift.kept, common: shift.from + shift.matched }
      : candidate
        ? { kept: candidate.kept, common: candidate.from }
        : r.reuse === false
          ? null
          : this.pool.take(modeName, promptIds);
    const fromStore = !found && r.reuse !== false ? await this.restoreSaved(cache, modeName, promptIds) : null;
    found ??= fromStore;
    const need = cacheBytesFor(model.spec, cache, promptIds.length + maxTokens);
    let cached = 0;
    let session: DecodeSession;
    if (found) {
      session = found.kept.session;
      cached = session.keep(Math.min(found.common, promptIds.length - 1));
      this.makeRoom(Math.max(need, cacheBytesFor(model.spec, cache, session.capacity)));
    } else {
      this.makeRoom(need);
      await backend.prepare(cache);
      session = backend.createSession(cache);
    }
    let firstAt = 0;
    const fail = (e: unknown) => (e instanceof EngineError ? Promise.reject(e) : backend.settleFailure(e));
    let finishReason: GenerationStats['finishReason'] = 'length';
    // Kept for the next request when it ends consistent: done, stopped or aborted (not failed).
    let keep = false;
    try {
      // The session runs the prompt in slices (or a long one layer by layer, in groups of slices): an abort lands
      // between them.
      const checkpoint = () => throwIfAborted(r.signal, 'prefill');
      checkpoint();
      let id = await session.next(promptIds.slice(cached), sampler, checkpoint).catch(fail);
      firstAt = performance.now();
      // Later ids come from decoding the one before, a few steps ahead on the GPU; stopping early
      // (return in finally) drops the steps run past the last id used.
      const later = session.decodeIds(id, sampler, maxTokens - 1);
      try {
        for (;;) {
          if (this.stopIds.includes(id)) {
            finishReason = 'stop';
            break;
          }
          ids.push(id);
          const delta = stop.push(text.push(id));
          if (delta) yield delta;
          // A constrained reply ends where its grammar does.
          if (stop.stopped || constraint?.done) {
            finishReason = 'stop';
            break;
          }
          if (ids.length >= maxTokens) break;
          throwIfAborted(r.signal, 'decode');
          const step = await later.next().catch(fail);
          if (step.done) break;
          id = step.value;
        }
      } finally {
        await later.return(undefined).catch(fail);
      }
      // The end-of-sequence choice is not part of the reply: neither is its log-probability.
      if (r.logprobs?.into) r.logprobs.into.length = Math.min(r.logprobs.into.length, ids.length);
      const rest = (ids.length ? stop.push(text.finish()) : '') + stop.finish();
      if (rest) yield rest;
      const done = performance.now();
      const decoded = Math.max(0, ids.length - 1);
      keep = true;
      return {
        ids,
        text: stop.text,
        finishReason,
        ...(r.logprobs ? { logprobs: sampler.logprobs.slice(0, ids.length) } : {}),
        promptTokens: promptIds.length,
        cachedTokens: cached,
        restoredTokens: fromStore ? cached : 0,
        shiftedTokens: shift ? Math.max(0, cached - shift.from) : 0,
        ...(this.saved ? { savedCacheNotes: this.saved.takeNotes() } : {}),
        truncatedTokens: fullPrompt.length - promptIds.length,
        cache: modeName,
        cacheBytes: session.storedBytes(),
        timeToFirstTokenMs: firstAt - started,
        prefillTokensPerSecond: (promptIds.length - cached) / ((firstAt - started) / 1000),
        decodeTokensPerSecond: decoded > 0 ? decoded / ((done - firstAt) / 1000) : 0,
        seconds: (done - started) / 1000,
      };
    } catch (e) {
      if (e instanceof AbortedError) keep = true;
      throw e;
    } finally {
      // The cache holds the prompt and the reply up to its last token run (decodeIds drops the steps run past it).
      const history = [...promptIds, ...ids];
      if (keep && r.reuse !== false && session.length > 0 && session.length <= history.length)
        this.pool.put(session, modeName, history.slice(0, session.length), cacheBytesFor(model.spec, cache, session.capacity));
      else session.close();
    }
  }

  /**
   * A saved conversation of this mode that starts like `ids`, read into a new session (null when there is none or
   * it cannot be used: a stale or damaged entry is deleted and said in the request's savedCacheNotes).
   */
  private async restoreSaved(cache: CacheConfig, mode: string, ids: readonly number[]): Promise<{ kept: KeptSession; common: number } | null> {
    const match = this.saved?.find(mode, ids);
    if (!this.saved || !match) return null;
    const { model, backend } = this.loaded();
    const bytes = cacheBytesFor(model.spec, cache, match.entry.tokens);
    this.makeRoom(bytes);
    await backend.prepare(cache);
    const session = backend.createSession(cache);
    try {
      await session.restore(await this.saved.load(match.entry));
    } catch (e) {
      session.close();
      if (!(e instanceof SavedCacheError)) throw e;
      // Another layout, parts that do not fit it, rings said to hold what they cannot: it would fail every time.
      await this.saved.delete(match.entry.key);
      this.saved.note(`a saved conversation was not used: ${e.message}`);
      return null;
    }
    return { kept: { session, mode, ids: match.entry.ids, bytes, lastUsed: 0 }, common: match.common };
  }

  /**
   * Save the conversation the last request left in the cache, in the cache's stored form, so a later page (after a
   * reload) continues it without prefilling it again: a request whose prompt starts with its tokens, in the same
   * mode, restores it. An earlier saved state of the same conversation is replaced.
   */
  async saveConversation(): Promise<SavedConversationInfo> {
    const saved = this.savedStore();
    const last = this.pool.latest();
    if (!last)
      throw new InvalidArgumentError('no conversation is kept to save', {
        field: 'conversation',
        expected: 'a request (with reuse on) before saveConversation()',
      });
    return saved.save(last.mode, last.ids, await last.session.save());
  }

  /** Conversations saved for the loaded model, newest first. */
  savedConversations(): SavedConversationInfo[] {
    this.loaded();
    return this.saved?.list() ?? [];
  }

  /** Delete a saved conversation (by its key), or all of the loaded model's. */
  async deleteSavedConversations(key?: string): Promise<void> {
    await this.savedStore().delete(key);
  }

  private savedStore(): ConversationCache {
    this.loaded();
    if (!this.saved)
      throw new InvalidArgumentError('this engine has no store for saved conversations', {
        field: 'savedConversations',
        expected: 'a ChunkStore given to the Engine',
      });
    return this.saved;
  }

  /** Perplexity of `text` by the protocol of shared/models/README.md: windows of ctx-1 tokens after BOS. */
  async perplexity(
    text: string,
    o: { ctx?: number; windows?: number; cache?: string; signal?: AbortSignal } = {},
  ): Promise<PerplexityResult & { cache: string; ctx: number }> {
    const { model, backend } = this.loaded();
    const ids = model.tokenizer.encode(text, false);
    const ctx = o.ctx ?? Math.min(512, model.spec.maxPositionEmbeddings);
    const windows = o.windows ?? Math.max(1, Math.floor(ids.length / (ctx - 1)));
    const cache = this.resolveCache(o.cache, ctx);
    this.makeRoom(cacheBytesFor(model.spec, cache, ctx));
    const r = await evaluatePerplexity(backend, ids, { ctx, windows, bos: model.spec.bosTokenId ?? 1, cache, signal: o.signal });
    return { ...r, cache: cacheModeName(cache), ctx };
  }

  /**
   * Mean negative log-likelihood of `continuation` after `prompt` under a cache mode, teacher-forced: the
   * prompt runs as generation's prefill does, then each continuation token as its own decode step, so every
   * prediction attends to the cache's stored form of what came before (how a reply in that mode sees it).
   */
  async score(prompt: number[], continuation: number[], o: { cache?: string; signal?: AbortSignal } = {}): Promise<ScoreResult> {
    const { model, backend } = this.loaded();
    if (prompt.length === 0 || continuation.length === 0)
      throw new InvalidArgumentError('prompt and continuation must not be empty', { field: prompt.length ? 'continuation' : 'prompt' });
    const total = prompt.length + continuation.length;
    if (total > model.spec.maxPositionEmbeddings) {
      throw new InvalidArgumentError("prompt and continuation are longer than the model's context", {
        field: 'continuation',
        expected: `at most ${model.spec.maxPositionEmbeddings} tokens`,
        got: `${total} tokens`,
      });
    }
    const cache = this.resolveCache(o.cache, total);
    this.makeRoom(cacheBytesFor(model.spec, cache, total));
    await backend.prepare(cache);
    const session = backend.createSession(cache);
    const V = model.spec.vocabSize;
    const fail = (e: unknown) => (e instanceof EngineError ? Promise.reject(e) : backend.settleFailure(e));
    try {
      const checkpoint = () => throwIfAborted(o.signal, 'score');
      checkpoint();
      let logits = await session.forward(prompt, 'last', checkpoint).catch(fail);
      const tokenNlls: number[] = [];
      for (let i = 0; i < continuation.length; i++) {
        if (i > 0) {
          throwIfAborted(o.signal, 'score');
          logits = await session.forward([continuation[i - 1]], 'last').catch(fail);
        }
        tokenNlls.push(logSumExp(logits, 0, V) - logits[continuation[i]]);
      }
      const meanNll = tokenNlls.reduce((a, b) => a + b, 0) / continuation.length;
      return { meanNll, tokenNlls, tokens: continuation.length, cache: cacheModeName(cache) };
    } finally {
      session.close();
    }
  }

  memory(context?: number): MemoryInfo {
    const { model, backend } = this.loaded();
    return {
      gpu: backend.memoryReport(),
      plan: planCache(model.spec, this.budgetBytes, context ?? model.spec.maxPositionEmbeddings, this.planOptions()),
      modelContext: model.spec.maxPositionEmbeddings,
      maxBindingBytes: backend.maxBindingBytes,
      sessions: this.pool.list(),
      saved: this.saved?.list() ?? [],
    };
  }

  /** The loaded model's template writes think blocks: its chat replies are split into reasoning and answer. */
  get thinks(): boolean {
    return templateThinks(this.loaded().model.tokenizer.templateSource);
  }

  /** The loaded backend's kernel family (null when nothing is loaded). */
  get kernels(): KernelFamily | null {
    return this.backend?.kernels ?? null;
  }

  get compiledKernels(): number {
    return this.backend?.compiledKernels ?? 0;
  }

  get isLoaded(): boolean {
    return this.model !== null;
  }

  /** Test hook: lose the GPU device as a driver reset would. */
  loseDevice(): void {
    this.loaded().backend.loseDevice();
  }

  unload(): void {
    this.pool.clear();
    this.backend?.destroy();
    this.backend = null;
    this.model = null;
  }
}
