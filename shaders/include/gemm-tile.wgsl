// The tiled product behind the tiled-family prefill GEMMs (linear-gemm.wgsl, gate-up-swiglu-gemm.wgsl):
// a workgroup of 256 invocations computes BM tokens x BN tile rows, staging BK-wide slices of x and of W
// (dequantized once by the op's tile_w8, shared by all BM tokens) in workgroup memory; each invocation
// accumulates TM tokens x TN rows in registers. W is staged k-major (wt[k][row]) so the inner loop's lanes
// read consecutive vec4s; x reads are broadcasts within a row of the invocation grid. 16 KiB of workgroup
// memory at 64 tokens, the most WebGPU guarantees. Invocation lid owns tokens ty * TM + i and tile rows
// tx + 16 j (tx = lid % 16, ty = lid / 16). Constants: IN_VEC4, X_STRIDE, GEMM_TOKENS; the op defines
// tile_w8(row_base, r, chunk) -> W8, tile row r's weights 8 chunk .. 8 chunk + 7.
// The op declares T4, the staged element type: vec4<f32>, or vec4<f16> where the device has shader-f16 and
// f16 arithmetic is asked for (src/webgpu/ops/linear.ts gemmMath): the slices then take half the memory and
// each 4-term dot runs in f16, its result added to the f32 accumulator (long sums stay f32).

const BM: u32 = GEMM_TOKENS; // tokens per tile: 64, or 16 for short prompts
const BN: u32 = 64u; // rows per tile
const BK: u32 = 32u; // columns per staged slice (four w8 chunks)
const TM: u32 = BM / 16u; // tokens per invocation
const TN: u32 = 4u;  // rows per invocation, 16 apart, so adjacent lanes read adjacent rows of wt
const KV4: u32 = BK / 4u;

var<workgroup> xs: array<T4, BM * KV4>; // [token][k / 4]
var<workgroup> wt: array<T4, KV4 * BN>; // [k / 4][row]

fn gemm_tile(lid: u32, row_base: u32, tok_base: u32) -> array<array<f32, TN>, TM> {
  let tx = lid % 16u;
  let ty = lid / 16u;
  let x_stride4 = X_STRIDE / 4u;
  var acc: array<array<f32, TN>, TM>;
  for (var k0 = 0u; k0 < IN_VEC4 * 4u; k0 += BK) {
    // W: invocation lid dequantizes chunk lid % 4 of tile row lid / 4.
    let r = lid / 4u;
    let c = lid % 4u;
    let wv = tile_w8(row_base, r, k0 / 8u + c);
    wt[(2u * c) * BN + r] = T4(wv.a);
    wt[(2u * c + 1u) * BN + r] = T4(wv.b);
    // x: BM tokens x KV4 vec4s (tokens past the slice repeat its last).
    for (var e = lid; e < BM * KV4; e += 256u) {
      let tok = min(tok_base + e / KV4, step.tokens - 1u);
      xs[e] = T4(x[tok * x_stride4 + k0 / 4u + e % KV4]);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < KV4; kk++) {
      var xv: array<T4, TM>;
      for (var i = 0u; i < TM; i++) { xv[i] = xs[(ty * TM + i) * KV4 + kk]; }
      for (var j = 0u; j < TN; j++) {
        let w4 = wt[kk * BN + tx + 16u * j];
        for (var i = 0u; i < TM; i++) { acc[i][j] += f32(dot(xv[i], w4)); }
      }
    }
    workgroupBarrier();
  }
  return acc;
}
