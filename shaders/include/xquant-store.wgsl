// Prefix of the cache kernels: the paged store of per-token quantized rows (X in the xquant modes) and
// its reconstruction X̂.
// Pages hold PAGE tokens of one layer; x_pages[(t / PAGE) * LAYERS + layer] is the word offset of the
// page holding token t of that layer in x_pool. x_pool is the layer's own buffer (RING_STRIDE = 0), except
// in xquant-cl, whose rebuild reads every earlier layer's deltas: one buffer for all layers, each layer's
// ring RING_STRIDE = RING_SLOTS slots after the previous one's. A row is the reference's layout (src/cache/row-layout.ts):
// groups of GROUP elements along the row, each {u32 meta = f16 scale | f16 zero << 16; codes}, codes a
// little-endian bitstream. Bits may differ per layer (pinned layers, XQuant-CL base layers).
// XQuant-CL (CL_BASE > 0): layers >= CL_BASE store deltas; X̂_l = X̂_{CL_BASE-1} + Σ_{j=CL_BASE..l} deQ(Δ_j).
// Residual window (RESIDUAL > 0): the newest RESIDUAL tokens of each layer are not quantized yet; their X
// sits in f16 (pairs packed in u32) in a ring of RING_SLOTS (the window plus the steps a run-ahead decode
// may overshoot and drop) at RING_BASE in x_pool, slot t % RING_SLOTS, and is quantized when it leaves the
// window. During a step the window holds tokens pos0 - RESIDUAL .. pos0 - 1.
// kivi and xquant-gqa keep their per-token V side (V, or its latent) in the same form, after the
// page's per-channel K block (ROW_OFFSET); k-block-sources.wgsl adds the K side.
// Constants: LAYERS, PAGE, GROUP, CL_BASE (0 = plain xquant), RESIDUAL, RING_SLOTS, RING_BASE, RING_STRIDE, RING_ROW_WORDS,
// SUMMED_ROWS and SUMMED_STRIDE (x_past), and
// the arrays LAYER_BITS, ROW_WORDS, ROW_OFFSET, GROUP_WORDS (generated). Needs bindings `x_pool`, `x_pages`.

/** Word offset of token t's quantized row at `layer`. */
fn row_base(layer: u32, t: u32) -> u32 {
  return x_pages[(t / PAGE) * LAYERS + layer] + ROW_OFFSET[layer] + (t % PAGE) * ROW_WORDS[layer];
}

/** Element `index` of the quantized group at word `gbase` ({meta; codes}), dequantized. */
fn group_elem(gbase: u32, index: u32, bits: u32) -> f32 {
  let sz = unpack2x16float(x_pool[gbase]);
  let bit = index * bits;
  let w = gbase + 1u + bit / 32u;
  let s = bit % 32u;
  var v = x_pool[w] >> s;
  if (s + bits > 32u) { v |= x_pool[w + 1u] << (32u - s); }
  return f32(v & ((1u << bits) - 1u)) * sz.x + sz.y;
}

fn q_elem(layer: u32, t: u32, i: u32) -> f32 {
  return group_elem(row_base(layer, t) + (i / GROUP) * (1u + GROUP_WORDS[layer]), i % GROUP, LAYER_BITS[layer]);
}

/** Element i of X̂ of token t at `layer`. */
fn x_hat(layer: u32, t: u32, i: u32) -> f32 {
  if (CL_BASE == 0u || layer < CL_BASE) { return q_elem(layer, t, i); }
  var v = q_elem(CL_BASE - 1u, t, i);
  for (var l = CL_BASE; l <= layer; l++) { v += q_elem(l, t, i); }
  return v;
}

/** Element i of token t's X in the residual window ring (f16). */
fn x_window(layer: u32, t: u32, i: u32) -> f32 {
  let pair = unpack2x16float(x_pool[RING_BASE + (layer * RING_STRIDE + t % max(RING_SLOTS, 1u)) * RING_ROW_WORDS + i / 2u]);
  return select(pair.x, pair.y, (i & 1u) == 1u);
}

/**
 * Element i of the stored X of past token t (t < pos0) as attention sees it: window or X̂. With SUMMED_ROWS
 * (XQuant-CL's decode, layers >= CL_BASE) x_pool is instead this step's rows of the layer's X̂, SUMMED_STRIDE f32
 * per token, summed once by xquant-cl-rows.wgsl.
 */
fn x_past(layer: u32, t: u32, i: u32) -> f32 {
  if (SUMMED_ROWS) { return bitcast<f32>(x_pool[t * SUMMED_STRIDE + i]); }
  if (RESIDUAL > 0u && t + RESIDUAL >= step.pos0) { return x_window(layer, t, i); }
  return x_hat(layer, t, i);
}

// Which layer a store or attend dispatch works on (one 16-byte uniform per layer).
struct LayerParams { index: u32, _pad0: u32, _pad1: u32, _pad2: u32 }
