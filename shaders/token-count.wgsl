// After a token choice: count the chosen token in the reply's counts (logit-adjust.wgsl reads them at the
// next step), on the GPU, so run-ahead decode needs no round trip. One invocation.

@group(0) @binding(1) var<storage, read> chosen: array<u32>;
@group(0) @binding(2) var<storage, read_write> counts: array<u32>;

@compute @workgroup_size(1)
fn main() {
  counts[chosen[0]] += 1u;
}
