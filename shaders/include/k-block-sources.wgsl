// What the attention reads in the kivi and xquant-gqa modes (after xquant-store.wgsl): a K side quantized
// per channel over blocks of PAGE tokens (K itself before RoPE for kivi, the latent X·U_k for xquant-gqa)
// and a V side quantized per token (xquant-store's rows). A page starts with the K block: channel c's
// group {meta; PAGE codes} at c * (1 + K_GROUP_WORDS[layer]). K of tokens not in a complete block older
// than the residual window waits in f16 in a ring of K_RING slots at K_RING_BASE of the layer's buffer (slot t % K_RING).
// Constants: KW (K side width), K_RING, K_RING_BASE, K_RING_ROW_WORDS, the array K_GROUP_WORDS.

/** Tokens whose K sits in committed blocks while attending at step.pos0. */
fn k_committed() -> u32 {
  return ((max(step.pos0, RESIDUAL) - RESIDUAL) / PAGE) * PAGE;
}

fn k_ring(layer: u32, t: u32, i: u32) -> f32 {
  let pair = unpack2x16float(x_pool[K_RING_BASE + (t % K_RING) * K_RING_ROW_WORDS + i / 2u]);
  return select(pair.x, pair.y, (i & 1u) == 1u);
}

fn k_src(layer: u32, t: u32, i: u32) -> f32 {
  if (t >= k_committed()) { return k_ring(layer, t, i); }
  return group_elem(x_pages[(t / PAGE) * LAYERS + layer] + i * (1u + K_GROUP_WORDS[layer]), t % PAGE, LAYER_BITS[layer]);
}

fn v_src(layer: u32, t: u32, i: u32) -> f32 {
  return x_past(layer, t, i);
}
