// Requests run one at a time, in the order they arrive; each has an id the caller can abort by, whether
// it is waiting or running (the running one sees its AbortSignal fire).

import { AbortedError } from '../errors';

export class RequestQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private readonly controllers = new Map<string, AbortController>();

  run<T>(id: string, task: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    this.controllers.set(id, controller);
    const result = this.tail.then(() => {
      if (controller.signal.aborted) throw new AbortedError('the queue (before it started)');
      return task(controller.signal);
    });
    const settle = () => {
      if (this.controllers.get(id) === controller) this.controllers.delete(id);
    };
    this.tail = result.then(settle, settle);
    return result;
  }

  /** Abort request `id`; false when no such request is waiting or running. */
  abort(id: string): boolean {
    const c = this.controllers.get(id);
    c?.abort();
    return c !== undefined;
  }

  get pending(): number {
    return this.controllers.size;
  }
}
