// The bindings of both gate/up kernels (gate-up-swiglu.wgsl, gate-up-swiglu-gemv.wgsl): the row part, the
// gate matrix and its scales (read by the weights-*.wgsl prefix), the up matrix and its scales (read by the
// same prefix renamed `_up`), input, output; and the gate's activation (constant GELU: Gemma's GELU-tanh, else SiLU).

struct Part { rows: u32, row_offset: u32, _a: u32, _b: u32 }

@group(0) @binding(1) var<uniform> part: Part;
@group(0) @binding(2) var<storage, read> w: array<WeightWord>;
@group(0) @binding(3) var<storage, read> ws: array<u32>;
@group(0) @binding(4) var<storage, read> w_up: array<WeightWord_up>;
@group(0) @binding(5) var<storage, read> ws_up: array<u32>;
@group(0) @binding(6) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> y: array<f32>;

/**
 * silu(g), or GELU with the tanh approximation where GELU is set (GeGLU). tanh's argument is clamped to ±10, where
 * tanh is 1 in f32 already: a driver's exp-based tanh (SwiftShader's) turns a larger one into inf / inf = NaN.
 */
fn gate_act(g: f32) -> f32 {
  if (GELU) { return 0.5 * g * (1.0 + tanh(clamp(0.7978845608028654 * (g + 0.044715 * g * g * g), -10.0, 10.0))); }
  return g / (1.0 + exp(-g));
}
