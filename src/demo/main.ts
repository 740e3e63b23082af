// The demo chat page: the engine in its Worker, the built-in model (public/models/austen-3m, served with
// the page, so it works offline), other models from the Hub or a local folder, every cache mode, a cache
// budget and a memory panel from the engine's planner (which mode holds the whole context, and why auto picks
// it), streamed replies with their speed, a stop button. The choices persist across reloads (localStorage), and so
// does the conversation: its messages in localStorage, its cache saved by the engine in IndexedDB after each reply,
// so the first turn after a reload restores the cache instead of prefilling the whole conversation again.

import { createEngine, type LoadProgress, type LoadResult, type ModelRef, type ResponseFormat, type ToolDefinition } from '../client/index';
import type { ChatMessage } from '../tokenizer/tokenizer';
import { ChatView, describeError } from './chat-view';
import { comparisonMode, describeDifference, nllDifference } from './compare';
import { renderMemory, size } from './memory-panel';
import { fillModelPicker } from './model-picker';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $('status');
const chat = new ChatView($<HTMLOListElement>('messages'));
const send = $<HTMLButtonElement>('send');
const stop = $<HTMLButtonElement>('stop');
const modelSelect = $<HTMLSelectElement>('model');
const custom = $<HTMLInputElement>('model-custom');
const folder = $<HTMLInputElement>('model-folder');
const ggufFile = $<HTMLInputElement>('model-gguf');
// The curated models, each with its size and whether it fits, before the "custom" entry.
fillModelPicker(modelSelect, modelSelect.querySelector<HTMLOptionElement>('option[value="custom"]')!, $('model-fit-note'));

const engine = createEngine();
// The page's engine, for tests and the browser console.
Object.assign(window, { xquantDemo: { engine } });
let loaded: LoadResult | null = null;
let history: ChatMessage[] = [];
let running: AbortController | null = null;
let lastCacheBytes: number | null = null;
/** The mode `auto` stands for: the planner's pick for the model's whole context in the budget. */
let planAuto: string | null = null;

/** The page's choices, kept across reloads. */
const SETTINGS_KEY = 'xquant-demo-settings';
const PERSISTED = ['model', 'model-custom', 'weights', 'cache', 'bits', 'budget', 'max-tokens', 'temperature'] as const;

function saveSettings(): void {
  const values = Object.fromEntries(PERSISTED.map((id) => [id, $<HTMLInputElement | HTMLSelectElement>(id).value]));
  try {
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(values));
  } catch {
    // storage off (private mode): the page works, it just forgets
  }
}

function restoreSettings(): void {
  let values: Record<string, unknown> = {};
  try {
    values = JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? '{}') as Record<string, unknown>;
  } catch {
    return;
  }
  for (const id of PERSISTED) {
    const el = $<HTMLInputElement | HTMLSelectElement>(id);
    const v = values[id];
    // A select keeps its value only if that option exists (a stale or edited entry is ignored).
    if (typeof v === 'string' && (!(el instanceof HTMLSelectElement) || [...el.options].some((o) => o.value === v))) el.value = v;
  }
}

/** The conversation on screen, per model, kept across reloads (its cache is the engine's saved conversation). */
const CONVERSATION_KEY = 'xquant-demo-conversation';

function storeConversation(): void {
  try {
    if (loaded) localStorage.setItem(CONVERSATION_KEY, JSON.stringify({ model: loaded.id, messages: history }));
  } catch {
    // storage off or full: the conversation is simply not kept
  }
}

/** The stored conversation of `model`, shown again; [] when there is none. */
function recallConversation(model: string): ChatMessage[] {
  try {
    const v = JSON.parse(localStorage.getItem(CONVERSATION_KEY) ?? 'null') as { model?: unknown; messages?: unknown } | null;
    if (!v || v.model !== model || !Array.isArray(v.messages)) return [];
    const messages = (v.messages as ChatMessage[]).filter((m) => (m.role === 'user' || m.role === 'assistant') && typeof m.content === 'string');
    for (const m of messages) chat.add(m.role as 'user' | 'assistant', m.content as string);
    return messages;
  } catch {
    return [];
  }
}

/** After a reply: the engine saves the conversation's cache (IndexedDB) and the page says how big it is. */
async function saveConversation(): Promise<void> {
  const out = $('saved-status');
  try {
    const s = await engine.saveConversation();
    out.dataset.tokens = String(s.tokens);
    out.dataset.bytes = String(s.bytes);
    const wrote = s.writtenBytes !== undefined && s.writtenBytes < s.bytes ? ` (this turn wrote ${size(s.writtenBytes)})` : '';
    out.textContent = `Saved in this browser: the conversation's ${s.mode} cache, ${s.tokens} tokens in ${size(s.bytes)}${wrote}; a reload continues it without prefilling it again.`;
  } catch (e) {
    out.textContent = `The conversation's cache was not saved: ${describeError(e)}`;
  }
}

function setState(state: 'loading' | 'ready' | 'generating' | 'failed'): void {
  document.body.dataset.state = state;
  send.disabled = state !== 'ready';
  stop.disabled = state !== 'generating';
  $<HTMLButtonElement>('compare').disabled = state !== 'ready' || !history.some((m) => m.role === 'user');
  $<HTMLButtonElement>('load').disabled = state === 'loading' || state === 'generating';
}

const PHASES: Record<LoadProgress['phase'], string> = {
  download: 'Downloading and quantizing',
  cache: 'Reading the weight cache',
  upload: 'Uploading to the GPU',
  compile: 'Compiling shaders',
};

function showProgress(p: LoadProgress | null): void {
  // Progress events are pushed and may land after the load has finished: those are stale.
  if (p && document.body.dataset.state !== 'loading') return;
  $('progress-row').hidden = p === null;
  if (!p) return;
  const bar = $<HTMLProgressElement>('progress');
  if (p.total) bar.value = p.loaded / p.total;
  else bar.removeAttribute('value'); // indeterminate
  const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;
  const bytes = p.phase === 'download' || p.phase === 'cache' ? ` ${mb(p.loaded)}${p.total ? ` of ${mb(p.total)}` : ''}` : '';
  $('progress-label').textContent = `${PHASES[p.phase]}${p.file ? ` ${p.file}` : ''}${bytes}`;
}

async function refreshMemory(): Promise<void> {
  if (!loaded) return;
  const info = await engine.memory(loaded.spec.maxPositionEmbeddings);
  planAuto = info.plan.auto;
  const chosen = $<HTMLSelectElement>('cache').value === 'auto' ? info.plan.auto : cacheMode();
  renderMemory($('memory-summary'), $('memory-explain'), $<HTMLTableElement>('memory-table').tBodies[0], info, lastCacheBytes, chosen);
  const p = info.plan.profile;
  $('profile').textContent =
    p.source === 'measured'
      ? `Speeds estimated from this GPU's measured figures (${p.name}).`
      : `Speeds estimated for a stated ${p.name} until this GPU is measured.`;
}

/** A few decode steps of the loaded model measure this GPU; the plan (and auto) use the figures from then on. */
async function calibrate(): Promise<void> {
  if (!loaded) return;
  const button = $<HTMLButtonElement>('calibrate');
  button.disabled = true;
  $('profile').textContent = 'Measuring this GPU…';
  try {
    await engine.calibrate();
  } finally {
    button.disabled = false;
    await refreshMemory();
  }
}

/** The weight cache's entries, what the browser allows this site, and whether it keeps them when space runs low. */
async function refreshStorage(): Promise<void> {
  const entries = await engine.listCachedModels();
  const estimate = await navigator.storage?.estimate?.().catch(() => undefined);
  const persisted = await navigator.storage?.persisted?.().catch(() => false);
  const total = entries.reduce((a, e) => a + e.bytes, 0);
  const quota = estimate?.quota ? `; the browser allows this site ${size(estimate.quota)}` : '';
  const kept = persisted ? 'kept when space runs low' : 'may be cleared when space runs low';
  $('storage-summary').textContent = entries.length ? `${entries.length} stored, ${size(total)}${quota}; ${kept}.` : `Nothing stored${quota}.`;
  $<HTMLTableElement>('storage-table').tBodies[0].replaceChildren(
    ...entries.map((e) => {
      const tr = document.createElement('tr');
      tr.dataset.id = e.id;
      for (const text of [e.name, e.format, size(e.bytes)]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = 'Delete';
      button.addEventListener('click', async () => {
        await engine.deleteCachedModel(e.id, e.revision, e.format);
        await refreshStorage();
      });
      const td = document.createElement('td');
      td.append(button);
      tr.append(td);
      return tr;
    }),
  );
}

/** Ask the browser to keep the stored models when space runs low (the click is the user's consent). */
async function askPersist(): Promise<void> {
  const granted = await navigator.storage?.persist?.().catch(() => false);
  $('persist-result').textContent = granted ? 'The browser agreed to keep them.' : 'The browser declined (it decides from how the site is used).';
  await refreshStorage();
}

/** WebGPU does not tell a page how much memory its GPU has: the "what this GPU allows" budget stops here. */
const DEVICE_BUDGET_CAP_MB = 4096;

/**
 * The budget select in MiB; "what this GPU allows": every layer's K and V pools at one storage binding
 * each, at most DEVICE_BUDGET_CAP_MB (adapters that grant 1-2 GiB bindings would otherwise claim tens of GB).
 */
async function budgetMb(): Promise<number> {
  const choice = $<HTMLSelectElement>('budget');
  if (choice.value !== 'device') return Number(choice.value);
  if (!loaded) return 256;
  const { maxBindingBytes } = await engine.memory();
  const mb = Math.min(DEVICE_BUDGET_CAP_MB, Math.round((maxBindingBytes * 2 * loaded.spec.numLayers) / 2 ** 20));
  choice.selectedOptions[0].textContent = `what this GPU allows (${mb.toLocaleString('en-US')} MB)`;
  return mb;
}

async function applyBudget(): Promise<void> {
  await engine.setMemoryBudget(await budgetMb());
  await refreshMemory();
  // auto may now stand for another mode: have it ready.
  if ($<HTMLSelectElement>('cache').value === 'auto') void prepareSelectedMode();
}

function selectedModel(): { ref: ModelRef; label: string } | null {
  switch (modelSelect.value) {
    case 'default':
      return { ref: new URL('models/austen-3m', location.href).href, label: 'austen-3m' };
    case 'custom':
      return custom.value.trim() ? { ref: custom.value.trim(), label: custom.value.trim() } : null;
    case 'folder': {
      const files = [...(folder.files ?? [])];
      return files.length ? { ref: { files }, label: files[0].webkitRelativePath.split('/')[0] || 'local folder' } : null;
    }
    case 'gguf': {
      const file = ggufFile.files?.[0];
      return file ? { ref: { files: [file] }, label: file.name } : null;
    }
    default: {
      // "owner/name:file.gguf" names a GGUF file in a Hub repo.
      const [hub, file] = modelSelect.value.split(':');
      return { ref: file ? { hub, file } : hub, label: modelSelect.value };
    }
  }
}

async function load(): Promise<void> {
  const choice = selectedModel();
  if (!choice) {
    status.textContent =
      modelSelect.value === 'folder'
        ? 'Pick a model folder first.'
        : modelSelect.value === 'gguf'
          ? 'Pick a .gguf file first.'
          : 'Type a Hugging Face id or a URL first.';
    return;
  }
  setState('loading');
  // The engine keeps the loaded model until the new one is on the GPU, and keeps it if the load fails.
  const previous = loaded;
  loaded = null;
  status.textContent = `Loading ${choice.label}…`;
  try {
    // The load compiles fp16's kernels, the selected mode's (auto: its pick for the whole context) and those
    // of xquant-cl, the mode this page features, so switching to it does not wait.
    const mode = $<HTMLSelectElement>('cache').value === 'auto' ? 'auto' : cacheMode();
    const featured = `xquant-cl-${$<HTMLSelectElement>('bits').value}`;
    const r = await engine.load(choice.ref, {
      weights: $<HTMLSelectElement>('weights').value as 'q8',
      cache: mode,
      prepare: [featured],
      memoryBudgetMB: await budgetMb(),
      onProgress: showProgress,
    });
    loaded = r;
    await applyBudget();
    // Picked files are read from the user's disk, not downloaded.
    const fetched = r.id.startsWith('files:') ? 'read from your files' : 'downloaded';
    const checked = r.storage.source;
    const from =
      r.storage.state === 'hit'
        ? `from the browser cache${checked?.state === 'unchanged' ? ', unchanged at its source' : checked?.state === 'offline' ? ' (offline: not checked against its source)' : ''}`
        : (r.storage.state === 'stored' ? `${fetched} and cached` : `${fetched} (not cached: ${String(r.storage.error?.message ?? r.storage.detail)})`) +
          (r.storage.lookup === 'corrupt' || r.storage.lookup === 'stale'
            ? ` (the cached copy was ${r.storage.lookup === 'corrupt' ? 'damaged' : 'outdated'}: ${r.storage.detail})`
            : '');
    status.dataset.compileMs = (r.phases.compile * 1000).toFixed(0);
    status.textContent = `${r.name}: ${r.spec.numLayers} layers, hidden ${r.spec.hiddenSize}, ${r.weights} weights ${from}, on ${r.adapter} with the ${r.kernels} kernel family (${r.seconds.toFixed(1)} s, of which compiling ${r.phases.compile.toFixed(1)} s).`;
    chat.clear();
    history = recallConversation(r.id);
    if (history.length)
      $('saved-status').textContent = `The conversation of your last visit (${history.length} messages) is back; its saved cache is used by the next reply.`;
    setState('ready');
    void refreshStorage();
  } catch (e) {
    const now = await engine.status();
    const kept = previous && now.loaded && now.model === previous.name ? previous : null;
    loaded = kept;
    status.textContent = `Could not load ${choice.label}. ${describeError(e)}${kept ? ` ${kept.name} is still loaded.` : ''}`;
    setState(kept ? 'ready' : 'failed');
    if (kept) await refreshMemory();
  } finally {
    showProgress(null);
  }
}

/** The request's cache: auto plans for the model's whole context (so the conversation can grow into it). */
function cacheMode(): string {
  const mode = $<HTMLSelectElement>('cache').value;
  if (mode === 'auto') return planAuto ?? 'auto';
  return mode === 'fp16' ? mode : `${mode}-${$<HTMLSelectElement>('bits').value}`;
}

/** The JSON output toggle and the tools box as request fields; a schema or tools list that is not JSON is said at once. */
function structuredFields(): { response_format?: ResponseFormat; tools?: ToolDefinition[] } {
  const fields: { response_format?: ResponseFormat; tools?: ToolDefinition[] } = {};
  const parse = (id: string, what: string): unknown => {
    try {
      return JSON.parse($<HTMLTextAreaElement>(id).value);
    } catch (e) {
      throw new Error(`the ${what} is not JSON: ${(e as Error).message}`);
    }
  };
  if ($<HTMLInputElement>('json-output').checked) {
    const schema = $<HTMLTextAreaElement>('json-schema').value.trim();
    fields.response_format = schema ? { type: 'json_schema', json_schema: { name: 'demo', schema: parse('json-schema', 'schema') } } : { type: 'json_object' };
  }
  if ($<HTMLTextAreaElement>('tools').value.trim()) fields.tools = parse('tools', 'tools list') as ToolDefinition[];
  return fields;
}

async function reply(text: string): Promise<void> {
  if (!loaded) return;
  let structured: ReturnType<typeof structuredFields>;
  try {
    structured = structuredFields();
  } catch (e) {
    chat.add('error', describeError(e));
    return;
  }
  history.push({ role: 'user', content: text });
  chat.add('user', text);
  const out = chat.add('assistant', '');
  running = new AbortController();
  setState('generating');
  // Measured here, from Send: it includes any wait for the mode's kernels, which the engine's figure does not.
  const sentAt = performance.now();
  let firstTokenMs: number | null = null;
  let failed = false;
  try {
    const stream = await engine.chat.completions.create({
      messages: history,
      stream: true,
      max_tokens: Number($<HTMLInputElement>('max-tokens').value),
      temperature: Number($<HTMLInputElement>('temperature').value),
      top_k: 40,
      top_p: 0.95,
      cache: cacheMode(),
      // A long conversation drops its oldest messages whole (said under the reply) instead of failing.
      truncation: 'auto',
      // A model without a chat template continues a plain "user: … assistant:" transcript.
      stop: loaded.hasChatTemplate ? undefined : ['\nuser:', '\nassistant:'],
      ...structured,
      signal: running.signal,
    });
    for await (const chunk of stream) {
      if (chunk.choices[0].delta.tool_calls) chat.addToolCalls(chunk.choices[0].delta.tool_calls);
      const delta = chunk.choices[0].delta.content ?? '';
      if (delta && firstTokenMs === null) firstTokenMs = performance.now() - sentAt;
      out.textContent += delta;
      const u = chunk.usage;
      if (u) {
        lastCacheBytes = u.cache_bytes;
        const first = firstTokenMs ?? performance.now() - sentAt;
        $('speed').dataset.firstTokenMs = first.toFixed(0);
        $('speed').textContent =
          `${u.completion_tokens} tokens, ${u.decode_tokens_per_second.toFixed(1)} tok/s decode, ${u.prefill_tokens_per_second.toFixed(1)} tok/s prefill, first token ${(first / 1000).toFixed(2)} s after Send; ${u.prompt_tokens_details.cached_tokens} of ${u.prompt_tokens} prompt tokens reused from the ${u.restored_tokens ? 'saved' : 'kept'} conversation; cache ${u.cache_mode}, ${size(u.cache_bytes)}.` +
          (u.truncated_messages
            ? ` ${u.truncated_messages} earlier messages were left out to fit the model's context${u.shifted_tokens ? `; ${u.shifted_tokens} tokens of the rest kept their cache entries (shifted, not prefilled again)` : ''}.`
            : '') +
          (u.saved_cache_notes?.length ? ` ${u.saved_cache_notes.join(' ')}` : '');
        $('speed').dataset.restoredTokens = String(u.restored_tokens);
      }
    }
  } catch (e) {
    if ((e as { code?: string }).code === 'ABORTED') out.textContent += ' [stopped]';
    else {
      chat.add('error', describeError(e));
      failed = true;
    }
  } finally {
    history.push({ role: 'assistant', content: out.textContent ?? '' });
    storeConversation();
    running = null;
    // A failed request leaves no kept conversation to save.
    if (!failed) await saveConversation();
    setState('ready');
    await refreshMemory();
  }
}

/** One side of a comparison: the reply, its cache and speed, and the fp16 reply's NLL under its cache. */
interface Side {
  mode: string;
  reply: string;
  figures: string;
}

function renderComparison(sides: Side[], verdict: string): void {
  const section = $('comparison');
  section.hidden = false;
  section.querySelector('.verdict')!.textContent = verdict;
  section.querySelector('.columns')!.replaceChildren(
    ...sides.map((s) => {
      const col = document.createElement('div');
      col.className = 'column';
      col.dataset.mode = s.mode;
      const h = document.createElement('h3');
      h.textContent = s.mode;
      const reply = document.createElement('p');
      reply.className = 'reply';
      reply.textContent = s.reply;
      const figures = document.createElement('p');
      figures.className = 'figures';
      figures.textContent = s.figures;
      col.append(h, reply, figures);
      return col;
    }),
  );
}

/** Answer the last user message again in fp16 and in the selected mode (same seed), and score the fp16 reply under both. */
async function compare(): Promise<void> {
  if (!loaded) return;
  const lastUser = history.map((m) => m.role).lastIndexOf('user');
  if (lastUser < 0) return;
  const messages = history.slice(0, lastUser + 1);
  running = new AbortController();
  setState('generating');
  try {
    const against = comparisonMode(cacheMode(), (await engine.memory(loaded.spec.maxPositionEmbeddings)).plan);
    const modes = ['fp16', against.mode];
    const replies: { mode: string; text: string; bytes: number; speed: number }[] = [];
    for (const mode of modes) {
      const r = await engine.chat.completions.create({
        messages,
        max_tokens: Number($<HTMLInputElement>('max-tokens').value),
        temperature: Number($<HTMLInputElement>('temperature').value),
        top_k: 40,
        top_p: 0.95,
        seed: 1234,
        cache: mode,
        truncation: 'auto',
        stop: loaded.hasChatTemplate ? undefined : ['\nuser:', '\nassistant:'],
        signal: running.signal,
      });
      replies.push({ mode: r.usage.cache_mode, text: r.choices[0].message.content, bytes: r.usage.cache_bytes, speed: r.usage.decode_tokens_per_second });
    }
    const reference = replies[0].text;
    const sides: Side[] = [];
    const tokenNlls: number[][] = [];
    for (const r of replies) {
      const scored = reference ? await engine.score({ messages, continuation: reference, cache: r.mode, signal: running.signal }) : null;
      if (scored) tokenNlls.push(scored.tokenNlls);
      sides.push({
        mode: r.mode,
        reply: r.text,
        figures: `cache ${size(r.bytes)}, ${r.speed.toFixed(1)} tok/s decode; NLL ${scored === null ? '–' : scored.meanNll.toFixed(3)}`,
      });
    }
    const verdict =
      tokenNlls.length === 2 ? describeDifference(replies[1].mode, nllDifference(tokenNlls[0], tokenNlls[1])) : 'The fp16 reply is empty: nothing to score.';
    renderComparison(sides, `Against fp16: ${replies[1].mode}, ${against.why}. ${verdict}`);
  } catch (e) {
    if ((e as { code?: string }).code !== 'ABORTED') chat.add('error', describeError(e));
  } finally {
    running = null;
    setState('ready');
    await refreshMemory();
  }
}

/** A changed cache mode compiles in the background (queued before any later request); the line below the chat says when it is ready. */
async function prepareSelectedMode(): Promise<void> {
  if (!loaded) return;
  const mode = cacheMode();
  $('mode-status').textContent = `Compiling ${mode}…`;
  try {
    const r = await engine.prepareMode(mode);
    if (cacheMode() === mode)
      $('mode-status').textContent = r.kernels ? `${r.cache} ready (${r.kernels} kernels compiled in ${r.seconds.toFixed(1)} s).` : `${r.cache} ready.`;
  } catch (e) {
    $('mode-status').textContent = `${mode}: ${describeError(e)}`;
  }
}

function showModelInputs(): void {
  custom.hidden = modelSelect.value !== 'custom';
  folder.hidden = modelSelect.value !== 'folder';
  ggufFile.hidden = modelSelect.value !== 'gguf';
}
modelSelect.addEventListener('change', showModelInputs);
$('json-output').addEventListener('change', () => ($('json-schema').hidden = !$<HTMLInputElement>('json-output').checked));
for (const id of PERSISTED) $(id).addEventListener('change', saveSettings);
$('budget').addEventListener('change', () => void applyBudget().catch((e: unknown) => (status.textContent = describeError(e))));
$('load').addEventListener('click', () => void load());
$('persist').addEventListener('click', () => void askPersist());
$('composer').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = $<HTMLTextAreaElement>('input');
  const text = input.value.trim();
  if (!text || send.disabled) return;
  input.value = '';
  void reply(text);
});
stop.addEventListener('click', () => running?.abort());
$('compare').addEventListener('click', () => void compare());
$('calibrate').addEventListener('click', () => void calibrate());
for (const id of ['cache', 'bits'])
  $(id).addEventListener('change', () => {
    void prepareSelectedMode();
    void refreshMemory(); // the table highlights the mode replies will use
  });
$('clear').addEventListener('click', () => {
  history = [];
  chat.clear();
  storeConversation();
  $('saved-status').textContent = '';
  if (loaded) void engine.deleteSavedConversations().catch(() => {});
});

restoreSettings();
// A persisted folder cannot be reopened without the user: start with the built-in model then.
if (modelSelect.value === 'folder' || modelSelect.value === 'gguf') modelSelect.value = 'default';
showModelInputs();
setState('loading');
void load();
