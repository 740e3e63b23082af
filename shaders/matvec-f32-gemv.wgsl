// y = W·x (+ bias) for an f32 weight W [rows, cols] in row-major order. One row per invocation: on CPU
// backends this beats barrier-based reductions several times over (docs/webgpu-on-cpu.md §5).

struct Dims { rows: u32, cols: u32, hasBias: u32, _pad: u32 }

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.x;
  if (row >= dims.rows) { return; }
  let base = row * dims.cols;
  var acc = 0.0;
  for (var i = 0u; i < dims.cols; i++) {
    acc += w[base + i] * x[i];
  }
  if (dims.hasBias != 0u) { acc += bias[row]; }
  y[row] = acc;
}
