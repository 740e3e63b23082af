// The bindings of both linear kernels (linear.wgsl, linear-gemv.wgsl): the row part this dispatch
// covers, the packed weights and their scales (read by the weights-*.wgsl prefix), input, bias, output.

struct Part { rows: u32, row_offset: u32, _a: u32, _b: u32 }

@group(0) @binding(1) var<uniform> part: Part;
@group(0) @binding(2) var<storage, read> w: array<WeightWord>;
@group(0) @binding(3) var<storage, read> ws: array<u32>;
@group(0) @binding(4) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
