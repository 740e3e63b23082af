// Prompts as token ids: a conversation through the chat template (reusing a kept conversation's own ids where the
// text starts as it did), and prompts cut to fit the context: whole messages dropped for chat, the middle of a plain
// prompt for `truncation: 'auto'`.

import { InvalidArgumentError } from '../errors';
import type { ChatMessage, TextTokenizer, ToolDefinition } from '../tokenizer/tokenizer';
import { SINK_TOKENS } from './engine-types';
import { templateToolMessages, toolCallFormat } from './tool-calls';

/**
 * Prompt ids of a conversation: the model's chat template, or a plain transcript when it has none. Where the text
 * starts with the text of one of `histories` (kept conversations' token ids), its ids are that history's own (the
 * replies as generated, not as re-tokenized) followed by the rest encoded, so the kept cache is reused up to the
 * new messages.
 */
export function chatPromptIds(
  t: TextTokenizer,
  messages: ChatMessage[],
  histories: readonly (readonly number[])[],
  tools?: readonly ToolDefinition[],
  kwargs: Record<string, unknown> = {},
): number[] {
  // Where the template reads tools from elsewhere than `tools` (Phi-4-mini: the system message), they go there.
  const shown = templateToolMessages(toolCallFormat(t.templateSource), messages, tools);
  const text = t.applyChatTemplate(shown.messages, true, shown.tools, kwargs);
  for (const history of histories) {
    const said = t.decode([...history], false);
    if (said.length === 0 || text.length <= said.length || !text.startsWith(said)) continue;
    // Used only where the joined ids read back as the prompt (a SentencePiece encoder may add a space at the seam).
    const ids = [...history, ...t.encode(text.slice(said.length), false)];
    if (t.decode(ids, false) === t.decode(t.encode(text, !t.hasChatTemplate), false)) return ids;
  }
  // Templates write their own BOS; the plain transcript needs the tokenizer's.
  return t.encode(text, !t.hasChatTemplate);
}

export interface FittedPrompt {
  ids: number[];
  /** Messages left out. */
  dropped: number;
  droppedTokens: number;
}

/**
 * A chat prompt that fits the context with room for the reply (a quarter of the context, or maxTokens if less):
 * the oldest messages are dropped whole until it does, never a system message or the last message, and a kept
 * history starts with a user message (what chat templates expect). A conversation whose system messages and last
 * message alone do not fit is refused with a typed error.
 */
export function fitMessages(prompt: (messages: ChatMessage[]) => number[], messages: ChatMessage[], maxTokens: number, context: number): FittedPrompt {
  const room = Math.max(1, Math.min(maxTokens, Math.floor(context / 4)));
  const full = prompt(messages);
  let kept = messages;
  let ids = full;
  while (ids.length + room > context) {
    const first = kept.findIndex((m) => m.role !== 'system');
    if (first < 0 || first >= kept.length - 1) {
      throw new InvalidArgumentError("the conversation does not fit the model's context even with only its system messages and last message", {
        field: 'messages',
        expected: `at most ${context - room} prompt tokens (the context less room for the reply)`,
        got: `${ids.length} tokens`,
      });
    }
    // Drop the oldest non-system message, then what answered it (assistant and tool messages, up to the next user
    // message or the last message), so the kept history starts at a user message; system messages stay.
    const drop = new Set([first]);
    for (let i = first + 1; i < kept.length - 1 && kept[i].role !== 'user'; i++) if (kept[i].role !== 'system') drop.add(i);
    kept = kept.filter((_, i) => !drop.has(i));
    ids = prompt(kept);
  }
  return { ids, dropped: messages.length - kept.length, droppedTokens: Math.max(0, full.length - ids.length) };
}

/** The prompt cut for `truncation: 'auto'`: sinks + the newest tokens, leaving room for the reply. */
export function slidingWindow(ids: readonly number[], context: number, maxTokens: number): readonly number[] {
  const room = Math.max(1, Math.min(maxTokens, Math.floor(context / 4)));
  const keep = context - room;
  if (ids.length <= keep) return ids;
  return [...ids.slice(0, SINK_TOKENS), ...ids.slice(ids.length - (keep - SINK_TOKENS))];
}
