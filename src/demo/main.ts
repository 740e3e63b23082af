// Demo page: the Worker engine with the project's own model (public/models/austen-3m, served with the
// page, so it works offline), a prompt box and every cache mode. The chat UI arrives with the product issue.
import { startWorkerEngine } from '../client/worker-engine';

const DEFAULT_MODEL = '/models/austen-3m';
const MODES = ['auto', 'fp16', 'xquant-8', 'xquant-cl-4', 'xquant-4', 'kivi-4', 'xquant-cl-2'];

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $('status');
const cache = $<HTMLSelectElement>('cache');
for (const m of MODES) cache.add(new Option(m, m));

const engine = startWorkerEngine();
try {
  const summary = await engine.load(DEFAULT_MODEL, { weights: 'f32' });
  status.textContent = `${summary.name}: ${summary.spec.numLayers} layers, hidden ${summary.spec.hiddenSize}, on ${summary.adapter}.`;
  $<HTMLButtonElement>('go').disabled = false;
} catch (e) {
  status.textContent = `Engine unavailable: ${e instanceof Error ? e.message : String(e)}`;
}

$('form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const go = $<HTMLButtonElement>('go');
  go.disabled = true;
  const prompt = $<HTMLTextAreaElement>('prompt').value;
  const temperature = Number($<HTMLInputElement>('temperature').value);
  try {
    const r = await engine.generate({
      prompt,
      maxTokens: Number($<HTMLInputElement>('tokens').value),
      cache: cache.value,
      sampling: { temperature, topK: 40, topP: 0.95, seed: Date.now() % 1e9 },
    });
    $('out').textContent = prompt + r.text;
    const mem = await engine.memory(r.promptTokens + r.ids.length);
    $('stats').textContent = `${r.ids.length} tokens in ${r.seconds.toFixed(1)} s, cache ${r.cache}; weights ${(mem.gpu.weights / 2 ** 20).toFixed(1)} MiB on the GPU.`;
  } catch (e) {
    $('out').textContent = `error: ${e instanceof Error ? e.message : String(e)}`;
  }
  go.disabled = false;
});
