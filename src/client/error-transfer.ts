// Engine errors keep their class and fields across the Worker boundary: Comlink's own handler for thrown
// values sends only name, message and stack, so `instanceof ModelFormatError` and `err.field` would be
// lost. Both sides install this before talking.

import * as Comlink from 'comlink';
import * as errors from '../errors';
import { EngineError } from '../errors';

type Thrown = { value: unknown };
type Serialized = { engineError?: Record<string, unknown>; [k: string]: unknown };

const CLASSES = new Map<string, typeof EngineError>(
  Object.values(errors)
    .filter((v): v is typeof EngineError => typeof v === 'function' && (v === EngineError || v.prototype instanceof EngineError))
    .map((c) => [c.name, c]),
);

let installed = false;

export function installErrorTransfer(): void {
  if (installed) return;
  installed = true;
  const original = Comlink.transferHandlers.get('throw') as Comlink.TransferHandler<Thrown, Serialized>;
  Comlink.transferHandlers.set('throw', {
    canHandle: original.canHandle,
    serialize(thrown: Thrown): [Serialized, Transferable[]] {
      const e = thrown.value;
      if (!(e instanceof EngineError)) return original.serialize(thrown);
      const { code, file, field, expected, got } = e;
      return [{ engineError: { name: e.name, message: e.message, stack: e.stack, code, file, field, expected, got } }, []];
    },
    deserialize(s: Serialized): Thrown {
      if (!s.engineError) return original.deserialize(s);
      const cls = CLASSES.get(String(s.engineError.name)) ?? EngineError;
      // Rebuilt without the constructor, which would compose the message a second time.
      throw Object.assign(Object.create(cls.prototype) as EngineError, s.engineError);
    },
  } as Comlink.TransferHandler<unknown, unknown>);
}
