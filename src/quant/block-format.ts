// GGUF block formats the GPU kernels read as the file stores them (shaders/include/weights-<format>.wgsl):
// a matrix row is the file's bytes of that row (whole blocks, in the file's order), padded to a whole u32.
// Nothing is rearranged or rounded, so a Q4_K_M file runs on exactly its own weights, each tensor in its
// own type, and the GPU holds no more than the file's tensor bytes (plus at most 3 bytes per row).
// Q8_0 and Q4_0 are not here: they are the engine's q8 and q4 in another byte order (gguf-repack.ts).

import { blockValues, decodeRows, rowBytes, type TensorEncoding } from '../model/tensor-encoding';

export type BlockFormat = 'q4_1' | 'q5_0' | 'q5_1' | 'q2_k' | 'q3_k' | 'q4_k' | 'q5_k' | 'q6_k' | 'iq4_nl' | 'iq4_xs';

const ENCODING: Record<BlockFormat, TensorEncoding> = {
  q4_1: 'Q4_1',
  q5_0: 'Q5_0',
  q5_1: 'Q5_1',
  q2_k: 'Q2_K',
  q3_k: 'Q3_K',
  q4_k: 'Q4_K',
  q5_k: 'Q5_K',
  q6_k: 'Q6_K',
  iq4_nl: 'IQ4_NL',
  iq4_xs: 'IQ4_XS',
};

export const BLOCK_FORMATS = Object.keys(ENCODING) as BlockFormat[];

export function isBlockFormat(name: string): name is BlockFormat {
  return name in ENCODING;
}

/** The GGUF encoding a block format keeps. */
export function blockEncoding(f: BlockFormat): TensorEncoding {
  return ENCODING[f];
}

/** The block format that keeps a GGUF encoding as stored, if the kernels read it. */
export function blockFormatOf(enc: TensorEncoding): BlockFormat | null {
  const f = enc.toLowerCase();
  return isBlockFormat(f) ? f : null;
}

/** u32 words of one row: the row's bytes, padded to a whole word. */
export function blockRowWords(f: BlockFormat, cols: number): number {
  return Math.ceil(rowBytes(ENCODING[f], cols) / 4);
}

/** `rows` stored rows (contiguous, `rowBytes` each) as the GPU holds them: each row starts on a word. */
export function blockRows(f: BlockFormat, bytes: Uint8Array, rows: number, cols: number): Uint32Array<ArrayBuffer> {
  const width = rowBytes(ENCODING[f], cols);
  const rw = blockRowWords(f, cols);
  const data = new Uint32Array(rows * rw);
  const out = new Uint8Array(data.buffer);
  if (width === rw * 4) out.set(bytes.subarray(0, rows * width));
  else for (let r = 0; r < rows; r++) out.set(bytes.subarray(r * width, (r + 1) * width), r * rw * 4);
  return data;
}

/** What a matrix is to llama.cpp's quantizer mix: the LM head (or the tied embedding), attn_v, ffn_down, or another. */
export type MixRole = 'output' | 'attn_v' | 'ffn_down' | 'other';

/** llama.cpp's fallbacks for rows that are not whole 256-value blocks (llama_tensor_get_type). */
const MIX_FALLBACK: Partial<Record<TensorEncoding, TensorEncoding>> = {
  Q2_K: 'IQ4_NL',
  Q3_K: 'IQ4_NL',
  IQ4_XS: 'IQ4_NL',
  Q4_K: 'Q5_0',
  Q5_K: 'Q5_1',
  Q6_K: 'Q8_0',
};

/** `enc`, or the type llama.cpp's quantizer writes instead where rows of `cols` values are not whole blocks (F16 last). */
export function fittedEncoding(enc: TensorEncoding, cols: number): TensorEncoding {
  let e = enc;
  if (cols % blockValues(e) !== 0) e = MIX_FALLBACK[e] ?? 'F16';
  return cols % blockValues(e) === 0 ? e : 'F16';
}

/**
 * llama.cpp's Q4_K_M / Q5_K_M mix (llama_tensor_get_type, simplified): Q6_K for the output (the token embedding when
 * tied) and for attn_v / ffn_down of the first and last eighth of the layers and every third layer between; `base`
 * elsewhere; then the fallback for rows of `cols` values.
 */
export function kQuantMixEncoding(base: TensorEncoding, role: MixRole, layer: number, layers: number, cols: number): TensorEncoding {
  // use_more_bits, with C's integer division.
  const eighth = Math.floor(layers / 8);
  const moreBits = layer < eighth || layer >= Math.floor((7 * layers) / 8) || (layer - eighth) % 3 === 2;
  const enc = role === 'output' || ((role === 'attn_v' || role === 'ffn_down') && moreBits) ? 'Q6_K' : base;
  return fittedEncoding(enc, cols);
}

/** The f32 values of `rows` rows held as blockRows holds them. */
export function unpackBlockRows(f: BlockFormat, data: Uint32Array, rows: number, cols: number): Float32Array {
  const width = rowBytes(ENCODING[f], cols);
  const rw = blockRowWords(f, cols);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) decodeRows(ENCODING[f], bytes.subarray(r * rw * 4, r * rw * 4 + width), out.subarray(r * cols, (r + 1) * cols));
  return out;
}
