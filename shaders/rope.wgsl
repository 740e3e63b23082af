// Rotary position embedding of q and k in place, token m at position pos0 + m, angles from a table of
// (cos, sin) per position and frequency computed on the CPU in f64 (the reference's table).
// INTERLEAVED = false: Hugging Face rotate-half, element i pairs with i + HALF.
// INTERLEAVED = true: GPT-J / Meta layout, element 2i pairs with 2i + 1.
// Constants: HALF (head_dim / 2), Q_HEADS, K_HEADS, Q_STRIDE, K_STRIDE, INTERLEAVED.

@group(0) @binding(1) var<storage, read_write> q: array<f32>;
@group(0) @binding(2) var<storage, read_write> k: array<f32>;
@group(0) @binding(3) var<storage, read> table: array<vec2<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = flat_id(gid, nwg);
  let i = id % HALF;
  let head = (id / HALF) % (Q_HEADS + K_HEADS);
  let m = id / (HALF * (Q_HEADS + K_HEADS));
  if (m >= step.tokens) { return; }
  let cs = table[(step.pos0 + m) * HALF + i];
  var a: u32;
  var b: u32;
  let base = select(m * K_STRIDE + (head - Q_HEADS) * 2u * HALF, m * Q_STRIDE + head * 2u * HALF, head < Q_HEADS);
  if (INTERLEAVED) {
    a = base + 2u * i;
    b = a + 1u;
  } else {
    a = base + i;
    b = a + HALF;
  }
  if (head < Q_HEADS) {
    let x0 = q[a];
    let x1 = q[b];
    q[a] = x0 * cs.x - x1 * cs.y;
    q[b] = x1 * cs.x + x0 * cs.y;
  } else {
    let x0 = k[a];
    let x1 = k[b];
    k[a] = x0 * cs.x - x1 * cs.y;
    k[b] = x1 * cs.x + x0 * cs.y;
  }
}
