// Demo page entry. Today it reports whether this browser can give the engine a WebGPU device (in a
// Worker, where the engine will run); the chat UI is built on top of the public API in a later issue.
const status = document.getElementById('status')!;
const worker = new Worker(new URL('../gpu/gpu-check-worker.ts', import.meta.url), { type: 'module' });
worker.onmessage = (e: MessageEvent<{ error?: string; adapterInfo?: { vendor: string; architecture: string } }>) => {
  status.textContent = e.data.error
    ? `WebGPU unavailable: ${e.data.error}`
    : `WebGPU ready in a Worker (${e.data.adapterInfo?.vendor} ${e.data.adapterInfo?.architecture}). The chat demo arrives with the product issue.`;
};
