// Context shift, kivi / xquant-gqa: store the K side k-block-gather.wgsl read at its new positions
// [cut.first, cut.new_len) (cut.first starts a block): each block now complete and older than the residual window
// (src/cache/keep.ts canShift: the kept tail covers the window, so none ends before cut.first) quantized per channel as
// k-block-commit.wgsl does (include/k-block-quantize.wgsl), from the values rounded to f16 as the ring would hold them; the rest into the f16 ring.
// Invocations: (block, channel) first, then (position, pair of elements) of the ring's rows. Constants: KW, plus the
// prefixes'.

struct Cut { first: u32, lo: u32, hi: u32, old_len: u32, new_len: u32 }

@group(0) @binding(1) var<storage, read> rows: array<f32>;
@group(0) @binding(2) var<storage, read> x_pages: array<u32>;
@group(0) @binding(3) var<storage, read_write> x_pool: array<u32>;
@group(0) @binding(4) var<uniform> layer_params: LayerParams;
@group(0) @binding(5) var<uniform> cut: Cut;
fn layer() -> u32 { return layer_params.index; }

/** Row value of position p, channel ch, as the f16 ring would hold it (include/k-block-quantize.wgsl reads it). */
fn block_value(p: u32, ch: u32) -> f32 {
  return f16_value(f16_bits(rows[(p - cut.first) * KW + ch]));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = flat_id(gid, nwg);
  let l = layer();
  let committed = ((max(cut.new_len, RESIDUAL) - RESIDUAL) / PAGE) * PAGE;
  let block_ids = ((committed - cut.first) / PAGE) * KW;
  if (id < block_ids) {
    let ch = id % KW;
    let first = cut.first + (id / KW) * PAGE;
    quantize_block_channel(l, first, ch);
    return;
  }
  let j = id - block_ids;
  let p = committed + j / K_RING_ROW_WORDS;
  let word = j % K_RING_ROW_WORDS;
  if (p >= cut.new_len) { return; }
  let i = 2u * word;
  let base = (p - cut.first) * KW;
  let b = select(0.0, rows[base + i + 1u], i + 1u < KW);
  x_pool[K_RING_BASE + (p % K_RING) * K_RING_ROW_WORDS + word] = pack_f16(rows[base + i], b);
}
