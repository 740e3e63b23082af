// Causal attention, merge half: combines the per-chunk (max, sum, weighted V sum) of attention-split.wgsl
// into the attention output, one invocation per (token, head, element).
// EXTRA_SLOTS: slots before the chunks (1 in xquant modes: the rematerialized past).
// Constants: HEAD_DIM, HEADS, OUT_STRIDE, EXTRA_SLOTS.

@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = flat_id(gid, nwg);
  let d = id % HEAD_DIM;
  let h = (id / HEAD_DIM) % HEADS;
  let m = id / (HEAD_DIM * HEADS);
  if (m >= step.tokens) { return; }
  let slots = step.chunks + EXTRA_SLOTS;
  let first = (m * HEADS + h) * slots;
  var mx = -3.0e38;
  for (var c = 0u; c < slots; c++) { mx = max(mx, partial[(first + c) * (HEAD_DIM + 2u)]); }
  var sum = 0.0;
  var acc = 0.0;
  for (var c = 0u; c < slots; c++) {
    let at = (first + c) * (HEAD_DIM + 2u);
    let weight = exp(partial[at] - mx);
    sum += weight * partial[at + 1u];
    acc += weight * partial[at + 2u + d];
  }
  out[m * OUT_STRIDE + h * HEAD_DIM + d] = acc / sum;
}
