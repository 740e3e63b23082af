// The model picker's list from the curated catalog (src/model/catalog.ts): each model with its weight size and
// whether it fits the GPU memory this page assumes, before anything is downloaded. Browsers do not say how much GPU
// memory there is: the page assumes half of navigator.deviceMemory (Chrome's rounded RAM; 8 GB at most), 4 GB
// elsewhere, and says so.

import { listModels } from '../engine/model-list';

const mb = (bytes: number) => `${Math.round(bytes / 2 ** 20).toLocaleString('en-US')} MB`;

/** GPU memory the page assumes it may use, in MiB, and how it came to that figure. */
export function assumedGpuMemory(): { mb: number; why: string } {
  const ram = (navigator as Navigator & { deviceMemory?: number }).deviceMemory;
  if (ram) return { mb: (ram * 1024) / 2, why: `half of this device's ${ram} GB of memory (navigator.deviceMemory)` };
  return { mb: 4096, why: 'an assumed 4 GB (this browser does not say how much memory the device has)' };
}

/** Catalog models as options before `before` (the "custom" entry): supported ones selectable, the others shown disabled. */
export function fillModelPicker(select: HTMLSelectElement, before: HTMLOptionElement, note: HTMLElement): void {
  const gpu = assumedGpuMemory();
  for (const m of listModels({ gpuMemoryMB: gpu.mb, context: 4096, weights: 'q4' })) {
    const option = document.createElement('option');
    option.value = m.repo;
    const fit = m.unsupported ? 'not supported yet' : m.fit?.fits ? `fits, ${m.fit.auto} cache for 4K tokens` : 'needs more GPU memory';
    option.textContent = `${m.name}: ${mb(m.weightBytes.q4)} of q4 weights, ${fit}${m.gated ? ', gated on the Hub' : ''}`;
    option.disabled = Boolean(m.unsupported);
    option.title = m.unsupported ?? `${m.repo}${m.ggufRepo ? ` (GGUF: ${m.ggufRepo}; a Q4_K_M file holds about ${mb(m.q4km.tensorBytes)} of weights)` : ''}`;
    option.dataset.fits = String(Boolean(m.fit?.fits));
    select.insertBefore(option, before);
  }
  note.textContent = `Sizes from each model's config.json; "fits" assumes ${mb(gpu.mb * 2 ** 20)} of GPU memory: ${gpu.why}.`;
}
