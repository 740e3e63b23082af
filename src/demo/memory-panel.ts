// The memory panel: GPU memory by category, and for every cache mode its bytes per token against fp16
// and the longest context that fits the budget (the engine's planner).

import type { MemoryInfo } from '../engine/engine';

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

export function renderMemory(summary: HTMLElement, body: HTMLTableSectionElement, info: MemoryInfo, lastCacheBytes: number | null): void {
  const g = info.gpu;
  const last = lastCacheBytes === null ? '' : `; last reply's cache ${mb(lastCacheBytes)}`;
  summary.textContent = `GPU: weights ${mb(g.weights)}, cache ${mb(g.cache)}, activations ${mb(g.activations)}${last}. Cache budget ${mb(info.plan.budgetBytes)}; auto picks ${info.plan.auto ?? 'nothing'} for ${info.plan.targetContext} tokens.`;
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
