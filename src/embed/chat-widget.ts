// The drop-in chat widget: a small chat box inside a shadow root, so the host page's styles and scripts
// do not reach into it. Every text from the model, the user or an error is set as textContent.

import type { XQuantEngine } from '../client/create-engine';
import type { ModelRef } from '../model/model-ref';
import type { LoadProgress } from '../storage/model-loader';
import type { ChatMessage } from '../tokenizer/tokenizer';

export interface WidgetOptions {
  model: ModelRef;
  cache: string;
  /** Absent: the engine's default (q8 for a folder, native for a .gguf file). */
  weights?: 'f32' | 'f16' | 'q8' | 'q4' | 'native';
  maxTokens: number;
}

const CSS = `
:host { all: initial; display: block; font: 14px/1.4 system-ui, sans-serif; color: #1d1d1f; }
.box { border: 1px solid #ccc; border-radius: 8px; max-width: 28rem; background: #fff; }
.status { padding: 6px 10px; font-size: 12px; color: #555; border-bottom: 1px solid #eee; }
ol { list-style: none; margin: 0; padding: 8px 10px; max-height: 18rem; overflow-y: auto; }
li { margin: 0 0 6px; padding: 6px 8px; border-radius: 6px; white-space: pre-wrap; }
li.user { background: #e8f0fe; }
li.assistant { background: #f5f5f5; }
li.error { background: #fdecea; color: #8a1c12; }
form { display: flex; gap: 6px; padding: 8px 10px; border-top: 1px solid #eee; }
input { flex: 1; font: inherit; }
`;

const PHASES: Record<LoadProgress['phase'], string> = {
  download: 'downloading',
  cache: 'reading the browser cache',
  upload: 'uploading to the GPU',
  compile: 'compiling shaders',
};

/** "Loading the model: downloading 1.2 of 4.0 MB (30%)". */
export function progressText(p: LoadProgress): string {
  const mib = (n: number) => (n / 2 ** 20).toFixed(1);
  const bytes = p.phase === 'download' || p.phase === 'cache';
  const amount = !bytes
    ? p.total
      ? ` (${p.loaded} of ${p.total})`
      : ''
    : p.total
      ? ` ${mib(p.loaded)} of ${mib(p.total)} MB (${Math.floor((100 * p.loaded) / p.total)}%)`
      : ` ${mib(p.loaded)} MB`;
  return `Loading the model: ${PHASES[p.phase]}${amount}`;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text) e.textContent = text;
  return e;
}

export function mountChatWidget(host: HTMLElement, engine: XQuantEngine, o: WidgetOptions): void {
  const root = host.attachShadow({ mode: 'open' });
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(CSS);
  root.adoptedStyleSheets = [sheet];
  const status = el('div', 'status', 'Loading the model…');
  const list = el('ol');
  const form = el('form');
  const input = el('input');
  input.placeholder = 'Ask something…';
  input.setAttribute('aria-label', 'message');
  const send = el('button', 'send', 'Send');
  send.type = 'submit';
  send.disabled = true;
  const stop = el('button', 'stop', 'Stop');
  stop.type = 'button';
  stop.disabled = true;
  form.append(input, send, stop);
  const box = el('div', 'box');
  box.append(status, list, form);
  root.append(box);

  const add = (role: string, text: string) => {
    const li = el('li', role, text);
    list.append(li);
    list.scrollTop = list.scrollHeight;
    return li;
  };
  const history: ChatMessage[] = [];
  let running: AbortController | null = null;
  let hasTemplate = false;

  let loading = true;
  const onProgress = (p: LoadProgress) => {
    // Progress is pushed from the Worker and may arrive after the load has finished.
    if (!loading) return;
    status.textContent = progressText(p);
    host.dataset.progress = p.phase;
  };
  engine
    .load(o.model, { weights: o.weights, cache: o.cache, onProgress })
    .finally(() => (loading = false))
    .then(
      (r) => {
        hasTemplate = r.hasChatTemplate;
        status.textContent = `${r.name} · ${r.weights} · ready`;
        send.disabled = false;
        host.dataset.state = 'ready';
      },
      (e: unknown) => {
        status.textContent = `Could not load the model: ${e instanceof Error ? e.message : String(e)}`;
        host.dataset.state = 'failed';
      },
    );

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text || send.disabled) return;
    input.value = '';
    history.push({ role: 'user', content: text });
    add('user', text);
    const out = add('assistant', '');
    running = new AbortController();
    send.disabled = true;
    stop.disabled = false;
    host.dataset.state = 'generating';
    try {
      const stream = await engine.chat.completions.create({
        messages: history,
        stream: true,
        truncation: 'auto', // a long conversation drops its oldest messages whole (said below) instead of failing
        max_tokens: o.maxTokens,
        temperature: 0.8,
        top_k: 40,
        stop: hasTemplate ? undefined : ['\nuser:', '\nassistant:'],
        signal: running.signal,
      });
      for await (const chunk of stream) {
        out.textContent += chunk.choices[0].delta.content ?? '';
        const dropped = chunk.usage?.truncated_messages ?? 0;
        if (dropped) status.textContent = `${dropped} earlier messages were left out to fit the model's context.`;
      }
    } catch (e) {
      if ((e as { code?: string }).code === 'ABORTED') out.textContent += ' [stopped]';
      else add('error', e instanceof Error ? e.message : String(e));
    }
    history.push({ role: 'assistant', content: out.textContent ?? '' });
    running = null;
    send.disabled = false;
    stop.disabled = true;
    host.dataset.state = 'ready';
  });
  stop.addEventListener('click', () => running?.abort());
}
