// Demo page entry. Today it starts the Worker engine and reports the WebGPU adapter it found; the chat UI
// is built on top of the public API in the product issue.
import { startWorkerEngine } from '../client/worker-engine';

const status = document.getElementById('status')!;
const engine = startWorkerEngine();
engine
  .memory()
  .then(() => (status.textContent = 'Engine ready.'))
  .catch((e: unknown) => {
    const message = e instanceof Error ? e.message : String(e);
    status.textContent = message.includes('no model is loaded')
      ? 'The engine Worker is running. The chat demo arrives with the product issue.'
      : `Engine unavailable: ${message}`;
  });
