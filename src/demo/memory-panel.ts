// The memory panel: GPU memory by category, and for every cache mode its bytes per token against fp16
// and the longest context that fits the budget (the engine's planner).

import type { MemoryInfo } from '../engine/engine';

/** Bytes in MB, or KB below one MB. */
export const size = (bytes: number) => (bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MB` : `${(bytes / 1024).toFixed(1)} KB`);

export function renderMemory(summary: HTMLElement, body: HTMLTableSectionElement, info: MemoryInfo, lastCacheBytes: number | null): void {
  const g = info.gpu;
  const last = lastCacheBytes === null ? '' : `; last reply's cache ${size(lastCacheBytes)}`;
  summary.textContent = `GPU: weights ${size(g.weights)}, cache ${size(g.cache)}, activations ${size(g.activations)}${last}. Cache budget ${size(info.plan.budgetBytes)}; auto picks ${info.plan.auto ?? 'nothing'} for ${info.plan.targetContext} tokens.`;
  const fp16 = info.plan.modes.find((m) => m.mode === 'fp16')?.bytesPerToken ?? 0;
  body.replaceChildren(
    ...info.plan.modes.map((m) => {
      const tr = document.createElement('tr');
      if (m.mode === info.plan.auto) tr.className = 'chosen';
      for (const text of [m.mode, String(m.bytesPerToken), fp16 ? `${(m.bytesPerToken / fp16).toFixed(2)}×` : '', m.maxContext.toLocaleString('en-US')]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    }),
  );
}
