// Storage for cached rows, in the exact byte layouts the GPU pages use:
//   per-token rows: groups of up to 128 elements along the row, each {u32 meta; u32 codes[ceil(n*b/32)]};
//   per-channel:    128-token groups per channel, same {meta; codes} form, newest tokens in an fp16 tail.
// `bytes()` counts what is really held, so reported cache sizes are measured, not assumed.

import { f16BitsToF32, f32ToF16Bits } from '../../quant/f16';
import { dequantizeGroup, metaScale, metaZero, packedWords, quantizeGroup, unpackCode } from '../../quant/quantize';
import { GROUP_SIZE } from '../../cache/cache-config';
import { quantRowWords, rowGroups } from '../../cache/row-layout';

export interface RowStore {
  readonly dim: number;
  readonly length: number;
  push(src: ArrayLike<number>, off: number): void;
  read(token: number, dst: Float32Array, dstOff: number): void;
  bytes(): number;
}

/** Growable typed array. */
class Grow<T extends Uint32Array | Uint16Array | Float32Array> {
  data: T;
  used = 0;
  constructor(private readonly make: (n: number) => T) {
    this.data = make(256);
  }
  reserve(n: number): number {
    if (this.used + n > this.data.length) {
      const next = this.make(Math.max(this.used + n, this.data.length * 2));
      next.set(this.data as ArrayLike<number>);
      this.data = next;
    }
    const at = this.used;
    this.used += n;
    return at;
  }
  /** Drop the first n elements. */
  shift(n: number): void {
    this.data.copyWithin(0, n, this.used);
    this.used -= n;
  }
}

export class QuantRowStore implements RowStore {
  private readonly words = new Grow((n) => new Uint32Array(n));
  private readonly groups: Array<[number, number]>;
  private readonly rowWords: number;
  length = 0;

  constructor(
    readonly dim: number,
    readonly bits: number,
  ) {
    this.groups = rowGroups(dim);
    this.rowWords = quantRowWords(dim, bits);
  }

  push(src: ArrayLike<number>, off: number): void {
    let w = this.words.reserve(this.rowWords);
    const data = this.words.data;
    for (const [s, n] of this.groups) {
      data[w] = quantizeGroup(src, off + s, 1, n, this.bits, data, w + 1);
      w += 1 + packedWords(n, this.bits);
    }
    this.length++;
  }

  read(token: number, dst: Float32Array, dstOff: number): void {
    let w = token * this.rowWords;
    const data = this.words.data;
    for (const [s, n] of this.groups) {
      dequantizeGroup(data, w + 1, data[w], n, this.bits, dst, dstOff + s, 1);
      w += 1 + packedWords(n, this.bits);
    }
  }

  bytes(): number {
    return this.length * this.rowWords * 4;
  }
}

export class F16RowStore implements RowStore {
  private readonly half = new Grow((n) => new Uint16Array(n));
  length = 0;
  constructor(readonly dim: number) {}

  push(src: ArrayLike<number>, off: number): void {
    const at = this.half.reserve(this.dim);
    for (let i = 0; i < this.dim; i++) this.half.data[at + i] = f32ToF16Bits(src[off + i]);
    this.length++;
  }

  read(token: number, dst: Float32Array, dstOff: number): void {
    const at = token * this.dim;
    for (let i = 0; i < this.dim; i++) dst[dstOff + i] = f16BitsToF32(this.half.data[at + i]);
  }

  /** Forget the oldest n rows (they moved to a quantized store). */
  dropOldest(n: number): void {
    this.half.shift(n * this.dim);
    this.length -= n;
  }

  bytes(): number {
    return this.length * this.dim * 2;
  }
}

/** Unquantized f32 rows: the `f32` mode and the `exact` test hook. */
export class F32RowStore implements RowStore {
  private readonly rows = new Grow((n) => new Float32Array(n));
  length = 0;
  constructor(readonly dim: number) {}

  push(src: ArrayLike<number>, off: number): void {
    const at = this.rows.reserve(this.dim);
    for (let i = 0; i < this.dim; i++) this.rows.data[at + i] = src[off + i];
    this.length++;
  }

  read(token: number, dst: Float32Array, dstOff: number): void {
    dst.set(this.rows.data.subarray(token * this.dim, (token + 1) * this.dim), dstOff);
  }

  dropOldest(n: number): void {
    this.rows.shift(n * this.dim);
    this.length -= n;
  }

  bytes(): number {
    return this.length * this.dim * 4;
  }
}

/**
 * Per-token quantized rows with a residual window: the newest `residual` tokens are held in fp16 and
 * quantized (from that fp16 copy, as the GPU does) when they leave the window.
 * push() returns the tokens whose stored form changed.
 */
export class WindowedRowStore {
  private readonly quant: RowStore;
  private readonly tail: F16RowStore | F32RowStore;
  private readonly scratch: Float32Array;

  constructor(
    readonly dim: number,
    bits: number,
    private readonly residual: number,
    exact = false,
  ) {
    this.quant = exact ? new F32RowStore(dim) : new QuantRowStore(dim, bits);
    this.tail = exact ? new F32RowStore(dim) : new F16RowStore(dim);
    this.scratch = new Float32Array(dim);
  }

  get length(): number {
    return this.quant.length + this.tail.length;
  }

  push(src: ArrayLike<number>, off: number): number[] {
    const token = this.length;
    if (this.residual === 0) {
      this.quant.push(src, off);
      return [token];
    }
    this.tail.push(src, off);
    const changed = [token];
    if (this.tail.length > this.residual) {
      this.tail.read(0, this.scratch, 0);
      this.quant.push(this.scratch, 0);
      this.tail.dropOldest(1);
      changed.push(this.quant.length - 1);
    }
    return changed;
  }

  read(token: number, dst: Float32Array, dstOff: number): void {
    const q = this.quant.length;
    if (token < q) this.quant.read(token, dst, dstOff);
    else this.tail.read(token - q, dst, dstOff);
  }

  bytes(): number {
    return this.quant.bytes() + this.tail.bytes();
  }
}

/**
 * Per-channel quantization along time (KIVI keys, XQuant-GQA key latents): every channel of a block of
 * 128 tokens shares one (scale, zero). Tokens wait in an fp16 tail until a whole block is older than the
 * residual window, then the block is committed. push() returns the tokens whose stored form changed.
 */
export class ChannelGroupStore {
  private readonly groups = new Grow((n) => new Uint32Array(n));
  private readonly tail: F16RowStore | F32RowStore;
  private readonly channelWords: number;
  private readonly block: Float32Array;
  private committed = 0;

  constructor(
    readonly dim: number,
    private readonly bits: number,
    private readonly residual: number,
    private readonly exact = false,
  ) {
    this.tail = exact ? new F32RowStore(dim) : new F16RowStore(dim);
    this.channelWords = 1 + packedWords(GROUP_SIZE, bits);
    this.block = new Float32Array(GROUP_SIZE * dim);
  }

  get length(): number {
    return this.committed + this.tail.length;
  }

  push(src: ArrayLike<number>, off: number): number[] {
    const changed = [this.length];
    this.tail.push(src, off);
    if (!this.exact && this.tail.length - this.residual >= GROUP_SIZE) {
      this.commitBlock();
      for (let i = 0; i < GROUP_SIZE; i++) changed.push(this.committed - GROUP_SIZE + i);
    }
    return changed;
  }

  private commitBlock(): void {
    const { dim, block, bits, channelWords } = this;
    for (let t = 0; t < GROUP_SIZE; t++) this.tail.read(t, block, t * dim);
    const base = this.groups.reserve(dim * channelWords);
    const data = this.groups.data;
    for (let c = 0; c < dim; c++) {
      const w = base + c * channelWords;
      data[w] = quantizeGroup(block, c, dim, GROUP_SIZE, bits, data, w + 1);
    }
    this.tail.dropOldest(GROUP_SIZE);
    this.committed += GROUP_SIZE;
  }

  read(token: number, dst: Float32Array, dstOff: number): void {
    if (token >= this.committed) {
      this.tail.read(token - this.committed, dst, dstOff);
      return;
    }
    const g = Math.floor(token / GROUP_SIZE);
    const i = token % GROUP_SIZE;
    const base = g * this.dim * this.channelWords;
    const data = this.groups.data;
    for (let c = 0; c < this.dim; c++) {
      const w = base + c * this.channelWords;
      // dequantize a single code of this channel's group
      dequantizeOne(data, w, i, this.bits, dst, dstOff + c);
    }
  }

  bytes(): number {
    return this.groups.used * 4 + this.tail.bytes();
  }
}

function dequantizeOne(data: Uint32Array, metaWord: number, index: number, bits: number, dst: Float32Array, at: number): void {
  const meta = data[metaWord];
  const code = unpackCode(data, metaWord + 1, index, bits);
  dst[at] = code * metaScale(meta) + metaZero(meta);
}
