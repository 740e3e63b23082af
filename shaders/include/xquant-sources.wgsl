// What the rematerializing attention reads in the xquant modes: K and V both come from X.

fn k_src(layer: u32, t: u32, i: u32) -> f32 {
  return x_past(layer, t, i);
}

fn v_src(layer: u32, t: u32, i: u32) -> f32 {
  return x_past(layer, t, i);
}
