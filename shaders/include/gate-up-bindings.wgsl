// The bindings of both gate/up kernels (gate-up-swiglu.wgsl, gate-up-swiglu-gemv.wgsl): the row part, the
// gate matrix and its scales (read by the weights-*.wgsl prefix), the up matrix and its scales (read by the
// same prefix renamed `_up`), input, output.

struct Part { rows: u32, row_offset: u32, _a: u32, _b: u32 }

@group(0) @binding(1) var<uniform> part: Part;
@group(0) @binding(2) var<storage, read> w: array<WeightWord>;
@group(0) @binding(3) var<storage, read> ws: array<u32>;
@group(0) @binding(4) var<storage, read> w_up: array<WeightWord>;
@group(0) @binding(5) var<storage, read> ws_up: array<u32>;
@group(0) @binding(6) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> y: array<f32>;
