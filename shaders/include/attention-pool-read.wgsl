// The pools of attention-split.wgsl read-only (APPEND false: the mode stores K and V elsewhere).

@group(0) @binding(5) var<storage, read> k_pool: array<u32>;
@group(0) @binding(6) var<storage, read> v_pool: array<u32>;

/** Never called: APPEND is false with these bindings. */
fn append_kv(m: u32, kv_off: u32) {}
