// The drop-in script: <script src=".../xquant-chat.js" data-model="..." data-cache="auto"></script>
// mounts a chat widget where the tag stands and defines window.XQuantChat.createEngine. Built as a
// classic script beside its classic worker (xquant-chat-worker.js); no eval, no wasm, no blob workers,
// so it runs under `script-src 'self'; worker-src 'self'`. It reads only its own tag's data attributes.

import { createEngineWith, type EngineOptions, type XQuantEngine } from '../client/create-engine';
import { mountChatWidget } from './chat-widget';

const script = document.currentScript as HTMLScriptElement | null;
const workerUrl = new URL('xquant-chat-worker.js', script?.src ?? location.href).href;

function createEngine(options: EngineOptions = {}): XQuantEngine {
  return createEngineWith(() => new Worker(workerUrl, { name: 'xquant-engine' }), options);
}

(window as unknown as { XQuantChat: { createEngine: typeof createEngine } }).XQuantChat = { createEngine };

const model = script?.dataset.model;
if (script && model) {
  const d = script.dataset;
  const host = document.createElement('div');
  host.className = 'xquant-chat';
  script.after(host);
  // No data-weights: the engine's default (q8 for a folder, native for a .gguf); an unknown name: q8.
  const weights =
    d.weights === undefined ? undefined : d.weights === 'f32' || d.weights === 'f16' || d.weights === 'q4' || d.weights === 'native' ? d.weights : 'q8';
  const maxTokens = Number(d.maxTokens);
  mountChatWidget(host, createEngine({ hubBase: d.hubBase }), {
    model,
    cache: d.cache ?? 'auto',
    weights,
    maxTokens: Number.isInteger(maxTokens) && maxTokens > 0 ? maxTokens : 96,
  });
}
