// The demo chat page: the engine in its Worker, the built-in model (public/models/austen-3m, served with
// the page, so it works offline), other models from the Hub or a local folder, every cache mode, a memory
// panel from the engine's planner, streamed replies with their speed, a stop button.

import { createEngine, type LoadProgress, type LoadResult, type ModelRef } from '../client/index';
import type { ChatMessage } from '../tokenizer/tokenizer';
import { ChatView, describeError } from './chat-view';
import { renderMemory, size } from './memory-panel';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $('status');
const chat = new ChatView($<HTMLOListElement>('messages'));
const send = $<HTMLButtonElement>('send');
const stop = $<HTMLButtonElement>('stop');
const modelSelect = $<HTMLSelectElement>('model');
const custom = $<HTMLInputElement>('model-custom');
const folder = $<HTMLInputElement>('model-folder');

const engine = createEngine();
let loaded: LoadResult | null = null;
let history: ChatMessage[] = [];
let running: AbortController | null = null;
let lastCacheBytes: number | null = null;

function setState(state: 'loading' | 'ready' | 'generating' | 'failed'): void {
  document.body.dataset.state = state;
  send.disabled = state !== 'ready';
  stop.disabled = state !== 'generating';
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
  renderMemory($('memory-summary'), $<HTMLTableElement>('memory-table').tBodies[0], await engine.memory(loaded.spec.maxPositionEmbeddings), lastCacheBytes);
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
    default:
      return { ref: modelSelect.value, label: modelSelect.value };
  }
}

async function load(): Promise<void> {
  const choice = selectedModel();
  if (!choice) {
    status.textContent = modelSelect.value === 'folder' ? 'Pick a model folder first.' : 'Type a Hugging Face id or a URL first.';
    return;
  }
  setState('loading');
  loaded = null;
  status.textContent = `Loading ${choice.label}…`;
  try {
    const r = await engine.load(choice.ref, { weights: $<HTMLSelectElement>('weights').value as 'q8', onProgress: showProgress });
    loaded = r;
    const from =
      r.storage.state === 'hit'
        ? 'from the browser cache'
        : (r.storage.state === 'stored' ? 'downloaded and cached' : `downloaded (not cached: ${String(r.storage.error?.message ?? r.storage.detail)})`) +
          (r.storage.lookup === 'corrupt' || r.storage.lookup === 'stale' ? ` (the cached copy was ${r.storage.lookup === 'corrupt' ? 'damaged' : 'outdated'}: ${r.storage.detail})` : '');
    status.textContent = `${r.name}: ${r.spec.numLayers} layers, hidden ${r.spec.hiddenSize}, ${r.weights} weights ${from}, on ${r.adapter || 'WebGPU'} (${r.seconds.toFixed(1)} s).`;
    history = [];
    chat.clear();
    await refreshMemory();
    setState('ready');
  } catch (e) {
    status.textContent = `Could not load ${choice.label}. ${describeError(e)}`;
    setState('failed');
  } finally {
    showProgress(null);
  }
}

function cacheMode(): string {
  const mode = $<HTMLSelectElement>('cache').value;
  return mode === 'auto' || mode === 'fp16' ? mode : `${mode}-${$<HTMLSelectElement>('bits').value}`;
}

async function reply(text: string): Promise<void> {
  if (!loaded) return;
  history.push({ role: 'user', content: text });
  chat.add('user', text);
  const out = chat.add('assistant', '');
  running = new AbortController();
  setState('generating');
  try {
    const stream = await engine.chat.completions.create({
      messages: history,
      stream: true,
      max_tokens: Number($<HTMLInputElement>('max-tokens').value),
      temperature: Number($<HTMLInputElement>('temperature').value),
      top_k: 40,
      top_p: 0.95,
      cache: cacheMode(),
      // A long conversation keeps its first tokens and its end (the engine's sliding window).
      truncation: 'auto',
      // A model without a chat template continues a plain "user: … assistant:" transcript.
      stop: loaded.hasChatTemplate ? undefined : ['\nuser:', '\nassistant:'],
      signal: running.signal,
    });
    for await (const chunk of stream) {
      out.textContent += chunk.choices[0].delta.content ?? '';
      const u = chunk.usage;
      if (u) {
        lastCacheBytes = u.cache_bytes;
        $('speed').textContent = `${u.completion_tokens} tokens, ${u.decode_tokens_per_second.toFixed(1)} tok/s decode, ${u.prefill_tokens_per_second.toFixed(1)} tok/s prefill, first token after ${(u.time_to_first_token_ms / 1000).toFixed(2)} s; cache ${u.cache_mode}, ${size(u.cache_bytes)}.`;
      }
    }
  } catch (e) {
    if ((e as { code?: string }).code === 'ABORTED') out.textContent += ' [stopped]';
    else chat.add('error', describeError(e));
  } finally {
    history.push({ role: 'assistant', content: out.textContent ?? '' });
    running = null;
    setState('ready');
    await refreshMemory();
  }
}

modelSelect.addEventListener('change', () => {
  custom.hidden = modelSelect.value !== 'custom';
  folder.hidden = modelSelect.value !== 'folder';
});
$('load').addEventListener('click', () => void load());
$('composer').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = $<HTMLTextAreaElement>('input');
  const text = input.value.trim();
  if (!text || send.disabled) return;
  input.value = '';
  void reply(text);
});
stop.addEventListener('click', () => running?.abort());
$('clear').addEventListener('click', () => {
  history = [];
  chat.clear();
});

setState('loading');
void load();
