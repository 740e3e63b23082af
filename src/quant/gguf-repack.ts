// GGUF's Q8_0 and Q4_0 are the engine's q8 and q4 (src/quant/weight-format.ts) in another byte order:
// 32 values per group, one f16 scale, w = scale * code with signed 8-bit codes (Q8_0) or 4-bit codes
// stored as code + 8 (Q4_0). Repacking moves bits and never rounds, so such a file runs on exactly the
// weights llama.cpp runs on. (The engine's own quantizer never writes the codes -128 and -8; its kernels
// read them like any other.)

import { rowBytes, type TensorEncoding } from '../model/tensor-encoding';
import { rowWords, scaleWords, type WeightFormat } from './weight-format';

/** The engine format a GGUF encoding maps onto without rounding, if any. */
export function repackTarget(enc: TensorEncoding): WeightFormat | null {
  return enc === 'Q8_0' ? 'q8' : enc === 'Q4_0' ? 'q4' : null;
}

/** `rows` rows of Q8_0 or Q4_0 (`cols` values each) as the engine's packed data and scales. */
export function repackRows(
  enc: 'Q8_0' | 'Q4_0',
  bytes: Uint8Array,
  rows: number,
  cols: number,
): { data: Uint32Array<ArrayBuffer>; scales: Uint32Array<ArrayBuffer> } {
  const format = enc === 'Q8_0' ? 'q8' : 'q4';
  const rw = rowWords(format, cols);
  const sw = scaleWords(format, cols);
  const inRow = rowBytes(enc, cols);
  const blockBytes = enc === 'Q8_0' ? 34 : 18;
  const data = new Uint32Array(rows * rw);
  const scales = new Uint32Array(rows * sw);
  const groups = cols / 32;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const at = r * inRow + g * blockBytes;
      scales[r * sw + (g >> 1)] |= (bytes[at] | (bytes[at + 1] << 8)) << ((g & 1) * 16);
      const q = at + 2;
      if (enc === 'Q8_0') {
        // The 32 code bytes in order are the group's 8 little-endian words.
        const out = r * rw + g * 8;
        for (let w = 0; w < 8; w++)
          data[out + w] = (bytes[q + 4 * w] | (bytes[q + 4 * w + 1] << 8) | (bytes[q + 4 * w + 2] << 16) | (bytes[q + 4 * w + 3] << 24)) >>> 0;
      } else {
        // Q4_0 keeps value j in the low nibble of byte j and value j + 16 in its high nibble; q4 keeps
        // values 8w .. 8w + 7 in word w, lowest nibble first.
        const out = r * rw + g * 4;
        for (let w = 0; w < 4; w++) {
          let word = 0;
          for (let k = 0; k < 8; k++) {
            const j = 8 * w + k;
            const nib = j < 16 ? bytes[q + j] & 0xf : bytes[q + j - 16] >> 4;
            word |= nib << (4 * k);
          }
          data[out + w] = word >>> 0;
        }
      }
    }
  }
  for (let i = 0; i < scales.length; i++) scales[i] >>>= 0;
  return { data, scales };
}
