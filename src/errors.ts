// Typed errors shared by every layer. Each carries a stable `code` and, where it applies, the file and
// field at fault and what was expected, so a caller (or a UI) can say exactly what went wrong.

export type ErrorCode =
  | 'MODEL_FORMAT' // a model file is malformed: bad JSON, bad header, bad offsets, wrong shape
  | 'MISSING_FILE' // a file the model needs is absent
  | 'UNSUPPORTED_MODEL' // well-formed, but an architecture or option this engine does not run
  | 'INVALID_ARGUMENT' // a caller passed something out of range (cache mode, bits, token id ...)
  | 'QUANTIZATION' // values a quantizer cannot represent (NaN, beyond f16 range)
  | 'GPU_UNAVAILABLE' // no WebGPU adapter or device
  | 'DEVICE_LOST' // the WebGPU device was lost (driver reset, destroy, out of memory); the engine must be reloaded
  | 'GPU_OUT_OF_MEMORY' // a GPU allocation failed
  | 'GPU_ERROR'; // the WebGPU implementation rejected a shader or a command (an engine bug, or an adapter it cannot serve)

export interface ErrorDetails {
  file?: string;
  field?: string;
  expected?: string;
  got?: string;
}

export class EngineError extends Error {
  readonly code: ErrorCode;
  readonly file?: string;
  readonly field?: string;
  readonly expected?: string;
  readonly got?: string;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(EngineError.compose(message, details));
    this.name = new.target.name;
    this.code = code;
    Object.assign(this, details);
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
  constructor(message: string, details: ErrorDetails = {}) {
    super('GPU_OUT_OF_MEMORY', message, details);
  }
}

export class GpuError extends EngineError {
  constructor(message: string) {
    super('GPU_ERROR', message);
  }
}
