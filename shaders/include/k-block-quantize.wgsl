// Quantize one channel of a K block (kivi / xquant-gqa), the reference's quantizer: the block's PAGE values of
// channel `ch` from `block_value(first + t, ch)` (defined by the kernel: the f16 ring, or rows rounded as it would
// hold them) into its group {meta; codes} in the page of token `first`. Shared by k-block-commit.wgsl (a step's
// completed blocks) and k-block-reform.wgsl (blocks re-formed by a context shift). Needs the quantize prefix.

fn quantize_block_channel(l: u32, first: u32, ch: u32) {
  var lo = 3.4e38;
  var hi = -3.4e38;
  for (var t = 0u; t < PAGE; t++) {
    let v = block_value(first + t, ch);
    lo = min(lo, v);
    hi = max(hi, v);
  }
  let bits = LAYER_BITS[l];
  let q = group_scale(lo, hi, bits);
  let gbase = x_pages[(first / PAGE) * LAYERS + l] + ch * (1u + K_GROUP_WORDS[l]);
  x_pool[gbase] = q.packed;
  var w = CodeWriter(gbase + 1u, 0u, 0u);
  for (var t = 0u; t < PAGE; t++) {
    var code = 0u;
    if (q.scale > 0.0) { code = round_code(block_value(first + t, ch), q.zero, q.scale, q.levels); }
    put_code(&w, code, bits);
  }
  flush_codes(&w);
}
