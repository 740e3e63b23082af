// The memory panel: GPU memory by category, the cache budget, and for every cache mode its bytes per token
// against fp16, the longest context the budget holds (capped at the model's own context), whether that is
// the whole context, the planner's estimated milliseconds per token and its perplexity cost: the trade XQuant
// makes, in the page's words.

import type { MemoryInfo } from '../engine/engine';

/** Bytes in MB, or KB below one MB. */
export const size = (bytes: number) => (bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MB` : `${(bytes / 1024).toFixed(1)} KB`);

const tokens = (n: number) => n.toLocaleString('en-US');

/** What the budget means, in a sentence: which mode `auto` picks for the whole context, and why. */
export function explainPlan(info: MemoryInfo): string {
  const { plan, modelContext } = info;
  const budget = size(plan.budgetBytes);
  const fp16 = plan.modes.find((m) => m.mode === 'fp16');
  const auto = plan.modes.find((m) => m.mode === plan.auto);
  if (!auto) {
    const best = plan.modes.reduce((a, b) => (b.maxContext > a.maxContext ? b : a));
    return `No cache mode holds the model's ${tokens(modelContext)} tokens in ${budget}; the longest is ${best.mode} with ${tokens(best.maxContext)} tokens. Replies stop at the budget.`;
  }
  if (auto.mode === 'fp16')
    return `fp16 holds the model's whole ${tokens(modelContext)}-token context in ${budget}, so auto keeps it; a smaller budget shows what XQuant saves.`;
  // At the model's context (a sliding layer's ring in fp16 is a constant, not a per-token cost).
  const ratio = fp16 ? ` (${(fp16.bytesAtTarget / auto.bytesAtTarget).toFixed(1)}x fewer cache bytes)` : '';
  const fp16Part = fp16
    ? `fp16 would hold only ${tokens(Math.min(fp16.maxContext, modelContext))} of the model's ${tokens(modelContext)} tokens`
    : `fp16 does not fit`;
  return `In ${budget}, ${fp16Part}; auto picks ${auto.mode}, which holds the whole context${ratio}.`;
}

/**
 * `selected`: the mode replies use (the cache menu's, or auto's pick); its row is highlighted, and auto's pick is
 * marked "(auto)" where it is another.
 */
export function renderMemory(
  summary: HTMLElement,
  explanation: HTMLElement,
  body: HTMLTableSectionElement,
  info: MemoryInfo,
  lastCacheBytes: number | null,
  selected: string | null,
): void {
  const g = info.gpu;
  // Between replies the cache held is the kept conversations' (reused by the next turn); the last reply's size says what it took.
  const kept = info.sessions.length;
  const cache =
    g.cache > 0
      ? `cache ${size(g.cache)} (${kept} kept conversation${kept === 1 ? '' : 's'}, ${info.sessions.reduce((a, k) => a + k.tokens, 0)} tokens)`
      : 'no cache held between replies';
  const last = lastCacheBytes === null ? '' : `; the last reply's held ${size(lastCacheBytes)}`;
  summary.textContent = `GPU now: weights ${size(g.weights)}, activations ${size(g.activations)}, ${cache}${last}.`;
  explanation.textContent = explainPlan(info);
  const fp16 = info.plan.modes.find((m) => m.mode === 'fp16')?.bytesAtTarget ?? 0;
  // Plain modes always; a budget-sized hot tier only where nothing beats it.
  const rows = info.plan.modes.filter((m) => m.hot === 0 || !m.dominatedBy);
  body.replaceChildren(
    ...rows.map((m) => {
      const tr = document.createElement('tr');
      if (m.mode === (selected ?? info.plan.auto)) tr.className = 'chosen';
      const isAuto = m.mode === info.plan.auto;
      tr.dataset.auto = String(isAuto);
      const held = Math.min(m.maxContext, info.modelContext);
      const full = m.maxContext >= info.modelContext;
      tr.dataset.full = String(full);
      for (const text of [
        isAuto && selected !== null && selected !== m.mode ? `${m.mode} (auto)` : m.mode,
        String(m.bytesPerToken),
        fp16 ? `${(m.bytesAtTarget / fp16).toFixed(2)}×` : '',
        tokens(held),
        full ? '✓ full' : '',
        m.msPerToken.toFixed(2),
        m.accuracyCost === null ? '–' : `+${(m.accuracyCost * 100).toFixed(2)}%`,
      ]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    }),
  );
}
