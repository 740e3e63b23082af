// The conversation on screen. Everything the model, the user or an error says is set as textContent:
// nothing from them is ever parsed as HTML.

export type Role = 'user' | 'assistant' | 'error' | 'tool call';

export class ChatView {
  constructor(private readonly list: HTMLOListElement) {}

  /** Append a message; returns the element whose text can grow (for a streamed reply). */
  add(role: Role, text: string): HTMLElement {
    const li = document.createElement('li');
    li.className = role.replace(' ', '-');
    const label = document.createElement('span');
    label.className = 'role';
    label.textContent = role;
    const body = document.createElement('span');
    body.className = 'text';
    body.textContent = text;
    li.append(label, body);
    this.list.append(li);
    li.scrollIntoView({ block: 'end' });
    return body;
  }

  /** Show the function calls a reply made, one line each: name(arguments). */
  addToolCalls(calls: readonly { function: { name: string; arguments: string } }[]): void {
    for (const c of calls) this.add('tool call', `${c.function.name}(${c.function.arguments})`);
  }

  clear(): void {
    this.list.replaceChildren();
  }
}

/** An error as one readable line: typed engine errors already name the file, field and expectation. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}
