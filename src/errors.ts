// Typed errors shared by every layer. Each carries a stable `code` and, where it applies, the file and
// field at fault and what was expected, so a caller (or a UI) can say exactly what went wrong.

export type ErrorCode =
  | 'MODEL_FORMAT' // a model file is malformed: bad JSON, bad header, bad offsets, wrong shape
  | 'MISSING_FILE' // a file the model needs is absent
  | 'UNSUPPORTED_MODEL' // well-formed, but an architecture or option this engine does not run
  | 'INVALID_ARGUMENT' // a caller passed something out of range (cache mode, bits, token id ...)
  | 'UNSUPPORTED_FIELD' // a request field (an OpenAI one) this engine does not implement: refused, never ignored
  | 'QUANTIZATION' // values a quantizer cannot represent (NaN, beyond f16 range)
  | 'GPU_UNAVAILABLE' // no WebGPU adapter or device
  | 'DEVICE_LOST' // the WebGPU device was lost (driver reset, destroy, out of memory); the engine must be reloaded
  | 'GPU_OUT_OF_MEMORY' // a GPU allocation failed
  | 'GPU_ERROR' // the WebGPU implementation rejected a shader or a command (an engine bug, or an adapter it cannot serve)
  | 'ABORTED' // the caller's AbortSignal fired (during download, prefill or decode)
  | 'NETWORK' // a download failed (no connection, HTTP error other than 404)
  | 'STORAGE_QUOTA' // the browser refused to store the weight cache (IndexedDB quota)
  | 'SAVED_CACHE' // a saved conversation cache that is stale (another model, mode, layout or format version) or damaged
  | 'GRAMMAR'; // a grammar, regex or JSON schema that does not parse, or constrained output no token of the vocabulary can continue

export interface ErrorDetails {
  file?: string;
  field?: string;
  expected?: string;
  got?: string;
}

/** Class name per code (the Worker boundary rebuilds errors by code; see src/client/error-transfer.ts). */
export const ERROR_NAMES: Record<ErrorCode, string> = {
  MODEL_FORMAT: 'ModelFormatError',
  MISSING_FILE: 'MissingFileError',
  UNSUPPORTED_MODEL: 'UnsupportedModelError',
  INVALID_ARGUMENT: 'InvalidArgumentError',
  UNSUPPORTED_FIELD: 'UnsupportedFieldError',
  QUANTIZATION: 'QuantizationError',
  GPU_UNAVAILABLE: 'GpuUnavailableError',
  DEVICE_LOST: 'DeviceLostError',
  GPU_OUT_OF_MEMORY: 'GpuOutOfMemoryError',
  GPU_ERROR: 'GpuError',
  ABORTED: 'AbortedError',
  NETWORK: 'NetworkError',
  STORAGE_QUOTA: 'StorageQuotaError',
  GRAMMAR: 'GrammarError',
  SAVED_CACHE: 'SavedCacheError',
};

export class EngineError extends Error {
  readonly code: ErrorCode;
  readonly file?: string;
  readonly field?: string;
  readonly expected?: string;
  readonly got?: string;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(EngineError.compose(message, details));
    // Class names do not survive minification; the code does, so the name is derived from it.
    this.name = ERROR_NAMES[code];
    this.code = code;
    Object.assign(this, details);
  }

  /** Plain data (code, fields, message): for postMessage and JSON; see src/client/error-transfer.ts. */
  toJSON(): Record<string, unknown> {
    return { ...(this as object), name: this.name, message: this.message };
  }

  private static compose(message: string, d: ErrorDetails): string {
    const where = [d.file, d.field].filter(Boolean).join(': ');
    const parts = [where ? `${where}: ${message}` : message];
    if (d.expected !== undefined) parts.push(`expected ${d.expected}`);
    if (d.got !== undefined) parts.push(`got ${d.got}`);
    return parts.join('; ');
  }
}

export class ModelFormatError extends EngineError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('MODEL_FORMAT', message, details);
  }
}

export class MissingFileError extends EngineError {
  constructor(file: string, why = 'file not found') {
    super('MISSING_FILE', why, { file });
  }
}

export class UnsupportedModelError extends EngineError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('UNSUPPORTED_MODEL', message, details);
  }
}

export class InvalidArgumentError extends EngineError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('INVALID_ARGUMENT', message, details);
  }
}

export class UnsupportedFieldError extends EngineError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('UNSUPPORTED_FIELD', message, details);
  }
}

export class QuantizationError extends EngineError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('QUANTIZATION', message, details);
  }
}

export class GpuUnavailableError extends EngineError {
  constructor(message: string) {
    super('GPU_UNAVAILABLE', message);
  }
}

export class DeviceLostError extends EngineError {
  constructor(message: string) {
    super('DEVICE_LOST', message);
  }
}

export class GpuOutOfMemoryError extends EngineError {
  /** Bytes asked for and the budget they exceeded, when known. */
  readonly requested?: number;
  readonly budget?: number;

  constructor(message: string, details: ErrorDetails & { requested?: number; budget?: number } = {}) {
    const { requested, budget, ...rest } = details;
    super('GPU_OUT_OF_MEMORY', message, rest);
    if (requested !== undefined) this.requested = requested;
    if (budget !== undefined) this.budget = budget;
  }
}

export class GpuError extends EngineError {
  constructor(message: string) {
    super('GPU_ERROR', message);
  }
}

export class AbortedError extends EngineError {
  constructor(during: string) {
    super('ABORTED', `aborted during ${during}`);
  }
}

export class NetworkError extends EngineError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('NETWORK', message, details);
  }
}

/** The browser refused to store the weight cache (or a saved conversation): `needed` bytes were asked for, `available` were free (when known). */
export class StorageQuotaError extends EngineError {
  readonly needed: number;
  readonly available: number | null;

  constructor(needed: number, available: number | null, what = 'the weight cache') {
    const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
    super('STORAGE_QUOTA', `the browser refused to store ${what} (storage quota)`, {
      expected: `${mb(needed)} of storage`,
      // What navigator.storage.estimate() said: a browser may refuse well before it (a headless profile's origin
      // refused at 1.3 GB of a reported 4 GiB), so this is what it claimed, not what it allowed.
      got: available === null ? 'an unknown amount free' : `${mb(available)} reported free by the browser's estimate`,
    });
    this.needed = needed;
    this.available = available;
  }
}

export class GrammarError extends EngineError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('GRAMMAR', message, details);
  }
}

/** A saved conversation cache cannot be used: it was made for another model, mode, layout or format, or it is damaged. */
export class SavedCacheError extends EngineError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('SAVED_CACHE', message, details);
  }
}

/** Throw AbortedError when `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, during: string): void {
  if (signal?.aborted) throw new AbortedError(during);
}

/** The class of each code, to rebuild an error on the other side of the Worker boundary. */
export const ERROR_CLASSES: Record<ErrorCode, { prototype: EngineError }> = {
  MODEL_FORMAT: ModelFormatError,
  MISSING_FILE: MissingFileError,
  UNSUPPORTED_MODEL: UnsupportedModelError,
  INVALID_ARGUMENT: InvalidArgumentError,
  UNSUPPORTED_FIELD: UnsupportedFieldError,
  QUANTIZATION: QuantizationError,
  GPU_UNAVAILABLE: GpuUnavailableError,
  DEVICE_LOST: DeviceLostError,
  GPU_OUT_OF_MEMORY: GpuOutOfMemoryError,
  GPU_ERROR: GpuError,
  GRAMMAR: GrammarError,
  SAVED_CACHE: SavedCacheError,
  ABORTED: AbortedError,
  NETWORK: NetworkError,
  STORAGE_QUOTA: StorageQuotaError,
};
