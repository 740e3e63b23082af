// Engine errors keep their class and fields across the Worker boundary: Comlink's own handler for thrown
// values sends only name, message and stack, so `instanceof ModelFormatError` and `err.field` would be
// lost. Both sides install this before talking. Classes are found by `code`, which survives minification.

import * as Comlink from 'comlink';
import { ERROR_CLASSES, EngineError, type ErrorCode } from '../errors';

type Thrown = { value: unknown };
type Serialized = { engineError?: Record<string, unknown>; [k: string]: unknown };

let installed = false;

/** Rebuild an EngineError of the right class, without its constructor (which would compose the message again). */
export function deserializeEngineError(data: Record<string, unknown>): EngineError {
  const cls: { prototype: EngineError } = ERROR_CLASSES[data.code as ErrorCode] ?? EngineError;
  return Object.assign(Object.create(cls.prototype) as EngineError, data);
}

export function installErrorTransfer(): void {
  if (installed) return;
  installed = true;
  const original = Comlink.transferHandlers.get('throw') as Comlink.TransferHandler<Thrown, Serialized>;
  Comlink.transferHandlers.set('throw', {
    canHandle: original.canHandle,
    serialize(thrown: Thrown): [Serialized, Transferable[]] {
      const e = thrown.value;
      if (!(e instanceof EngineError)) return original.serialize(thrown);
      return [{ engineError: { ...e.toJSON(), stack: e.stack } }, []];
    },
    deserialize(s: Serialized): Thrown {
      if (!s.engineError) return original.deserialize(s);
      throw deserializeEngineError(s.engineError);
    },
  } as Comlink.TransferHandler<unknown, unknown>);
}
