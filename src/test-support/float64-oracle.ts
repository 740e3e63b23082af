// An independent float64 forward pass of Llama-family decoders, written from transformers' definitions and read
// from a checkpoint's own tensors (fused as stored, rows as stored): no code shared with the reference decoder.
// It covers Phi-3's fused projections, partial rotary and longrope, SmolLM3's layers without RoPE, and Gemma 3
// (gemma3Logits); the oracle of Qwen3's q/k norms is src/reference/qwen3.test.ts.

import { syntheticConfig, type SyntheticShape, type TensorSpec } from './synthetic-model';

/** y = W x for rows [row0, row0 + rows) of a [.., cols] matrix. */
function lin(w: Float32Array, rows: number, cols: number, x: Float64Array, row0 = 0): Float64Array {
  return Float64Array.from({ length: rows }, (_, o) => {
    let acc = 0;
    for (let i = 0; i < cols; i++) acc += w[(row0 + o) * cols + i] * x[i];
    return acc;
  });
}

/** RMSNorm: x / √(mean x² + eps) × (offset + g) (Gemma's offset is 1). */
function rmsNorm(x: Float64Array, g: Float32Array, eps: number, offset = 0): Float64Array {
  const ms = x.reduce((a, v) => a + v * v, 0) / x.length;
  return x.map((v, i) => (v / Math.sqrt(ms + eps)) * (offset + g[i]));
}

/** Causal GQA attention of query t over keys [first, t], softmax of q·k × scale. */
function attend(
  q: Float64Array,
  ks: Float64Array[],
  vs: Float64Array[],
  t: number,
  o: { H: number; KV: number; hd: number; scale: number; first: number },
): Float64Array {
  const { H, KV, hd } = o;
  const out = new Float64Array(H * hd);
  for (let head = 0; head < H; head++) {
    const g = Math.floor(head / (H / KV));
    const scores: number[] = [];
    for (let j = o.first; j <= t; j++) {
      let dot = 0;
      for (let i = 0; i < hd; i++) dot += q[head * hd + i] * ks[j][g * hd + i];
      scores.push(dot * o.scale);
    }
    const max = Math.max(...scores);
    const e = scores.map((x) => Math.exp(x - max));
    const sum = e.reduce((a, b) => a + b, 0);
    e.forEach((w, n) => {
      for (let i = 0; i < hd; i++) out[head * hd + i] += (w / sum) * vs[o.first + n][g * hd + i];
    });
  }
  return out;
}

/** transformers' rotate-half RoPE of the first `rd` dims of each head at position p (inverse frequency per pair). */
function rotate(x: Float64Array, heads: number, hd: number, rd: number, p: number, invFreq: (i: number) => number, amp = 1): Float64Array {
  const out = Float64Array.from(x);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < rd / 2; i++) {
      const a = p * invFreq(i);
      const [cos, sin] = [Math.cos(a) * amp, Math.sin(a) * amp];
      const [x0, x1] = [x[h * hd + i], x[h * hd + i + rd / 2]];
      out[h * hd + i] = x0 * cos - x1 * sin;
      out[h * hd + i + rd / 2] = x1 * cos + x0 * sin;
    }
  }
  return out;
}

/** Logits of every position, in float64, from the definition and the checkpoint's tensors: no code shared with the decoder. */
export function float64Logits(shape: SyntheticShape, tensors: TensorSpec[], ids: number[], o: { longFactors?: boolean } = {}): Float64Array[] {
  const c = syntheticConfig(shape) as Record<string, number> & {
    rope_scaling: { short_factor: number[]; long_factor: number[] } | null;
    no_rope_layers?: number[];
  };
  const W = (n: string) => tensors.find((t) => t.name === n)!.data;
  const has = (n: string) => tensors.some((t) => t.name === n);
  const { hidden: d, heads: H, kvHeads: KV, headDim: hd, ffn: f, vocab: V } = shape;
  const rd = Math.round(hd * (c.partial_rotary_factor ?? 1));
  // longrope: the short factors (the long ones for a sequence past the trained context, `longFactors`), and cos and
  // sin times sqrt(1 + ln(max / original) / ln original).
  const scale = c.rope_scaling ? c.max_position_embeddings / c.original_max_position_embeddings : 1;
  const attnFactor = scale > 1 ? Math.sqrt(1 + Math.log(scale) / Math.log(c.original_max_position_embeddings)) : 1;
  const factor = (i: number) => (o.longFactors ? c.rope_scaling?.long_factor[i] : c.rope_scaling?.short_factor[i]) ?? 1;
  const eps = c.rms_norm_eps;
  const norm = (x: Float64Array, g: Float32Array) => rmsNorm(x, g, eps);
  // transformers' apply_rotary_pos_emb on q[..., :rd] (longrope's short factors and amplitude); the rest passes.
  const rope = (x: Float64Array, heads: number, p: number) => rotate(x, heads, hd, rd, p, (i) => 1 / (factor(i) * c.rope_theta ** ((2 * i) / rd)), attnFactor);
  const embed = W('model.embed_tokens.weight');
  let hs = ids.map((id) => Float64Array.from(embed.subarray(id * d, (id + 1) * d)));
  for (let l = 0; l < shape.layers; l++) {
    const p = `model.layers.${l}.`;
    // Phi-3 stores q | k | v as one qkv_proj and gate | up as one gate_up_proj; the others apart.
    const fused = has(`${p}self_attn.qkv_proj.weight`);
    const [wq, q0] = fused ? [W(`${p}self_attn.qkv_proj.weight`), 0] : [W(`${p}self_attn.q_proj.weight`), 0];
    const [wk, k0] = fused ? [wq, H * hd] : [W(`${p}self_attn.k_proj.weight`), 0];
    const [wv, v0] = fused ? [wq, (H + KV) * hd] : [W(`${p}self_attn.v_proj.weight`), 0];
    // SmolLM3: no_rope_layers[l] = 0 leaves q and k unturned.
    const turn = c.no_rope_layers?.[l] !== 0 ? rope : (x: Float64Array) => x;
    const xs = hs.map((h) => norm(h, W(`${p}input_layernorm.weight`)));
    const qs = xs.map((x, t) => turn(lin(wq, H * hd, d, x, q0), H, t));
    const ks = xs.map((x, t) => turn(lin(wk, KV * hd, d, x, k0), KV, t));
    const vs = xs.map((x) => lin(wv, KV * hd, d, x, v0));
    hs = hs.map((h, t) => {
      const attn = attend(qs[t], ks, vs, t, { H, KV, hd, scale: 1 / Math.sqrt(hd), first: 0 });
      const o = lin(W(`${p}self_attn.o_proj.weight`), d, H * hd, attn);
      const h1 = h.map((v, i) => v + o[i]);
      const x2 = norm(h1, W(`${p}post_attention_layernorm.weight`));
      const gate = fused ? lin(W(`${p}mlp.gate_up_proj.weight`), f, d, x2, 0) : lin(W(`${p}mlp.gate_proj.weight`), f, d, x2);
      const up = fused ? lin(W(`${p}mlp.gate_up_proj.weight`), f, d, x2, f) : lin(W(`${p}mlp.up_proj.weight`), f, d, x2);
      const down = lin(
        W(`${p}mlp.down_proj.weight`),
        d,
        f,
        up.map((u, i) => u * (gate[i] / (1 + Math.exp(-gate[i])))),
      );
      return h1.map((v, i) => v + down[i]);
    });
  }
  const head = W(shape.tied ? 'model.embed_tokens.weight' : 'lm_head.weight');
  return hs.map((h) => lin(head, V, d, norm(h, W('model.norm.weight'))));
}

/**
 * Gemma 3 from transformers' Gemma3ForCausalLM: embeddings × √hidden; RMSNorm × (1 + w) everywhere; q_norm and
 * k_norm per head; RoPE base rope_local_base_freq on sliding layers (window `sliding_window`), rope_theta on every
 * sliding_window_pattern-th (with rope_scaling's linear factor, if any); softmax scale query_pre_attn_scalar^-½;
 * post-attention and post-MLP norms; GELU (tanh) gate.
 */
export function gemma3Logits(shape: SyntheticShape, tensors: TensorSpec[], ids: number[]): Float64Array[] {
  const c = syntheticConfig(shape) as Record<string, number>;
  const W = (n: string) => tensors.find((t) => t.name === n)!.data;
  const { hidden: d, heads: H, kvHeads: KV, headDim: hd, ffn: f, vocab: V } = shape;
  const norm = (x: Float64Array, g: Float32Array) => rmsNorm(x, g, c.rms_norm_eps, 1);
  const perHead = (x: Float64Array, heads: number, g: Float32Array) => {
    const out = new Float64Array(x.length);
    for (let h = 0; h < heads; h++) out.set(norm(x.subarray(h * hd, (h + 1) * hd), g), h * hd);
    return out;
  };
  const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  const embed = W('model.embed_tokens.weight');
  let hs = ids.map((id) => Float64Array.from(embed.subarray(id * d, (id + 1) * d), (v) => v * Math.sqrt(d)));
  for (let l = 0; l < shape.layers; l++) {
    const p = `model.layers.${l}.`;
    const sliding = (l + 1) % (c.sliding_window_pattern ?? 6) !== 0;
    const base = sliding ? (c.rope_local_base_freq ?? 10000) : c.rope_theta;
    // rope_scaling (linear, Gemma-3-4B and up) applies to the full-attention layers only.
    const linear = sliding ? 1 : ((syntheticConfig(shape).rope_scaling as { factor: number } | null | undefined)?.factor ?? 1);
    const rope = (x: Float64Array, heads: number, t: number) => rotate(x, heads, hd, hd, t, (i) => base ** (-(2 * i) / hd) / linear);
    const xs = hs.map((h) => norm(h, W(`${p}input_layernorm.weight`)));
    const qs = xs.map((x, t) => rope(perHead(lin(W(`${p}self_attn.q_proj.weight`), H * hd, d, x), H, W(`${p}self_attn.q_norm.weight`)), H, t));
    const ks = xs.map((x, t) => rope(perHead(lin(W(`${p}self_attn.k_proj.weight`), KV * hd, d, x), KV, W(`${p}self_attn.k_norm.weight`)), KV, t));
    const vs = xs.map((x) => lin(W(`${p}self_attn.v_proj.weight`), KV * hd, d, x));
    hs = hs.map((h, t) => {
      const first = sliding ? Math.max(0, t - c.sliding_window + 1) : 0;
      const attn = attend(qs[t], ks, vs, t, { H, KV, hd, scale: 1 / Math.sqrt(c.query_pre_attn_scalar ?? hd), first });
      const o = norm(lin(W(`${p}self_attn.o_proj.weight`), d, H * hd, attn), W(`${p}post_attention_layernorm.weight`));
      const h1 = h.map((v, i) => v + o[i]);
      const x2 = norm(h1, W(`${p}pre_feedforward_layernorm.weight`));
      const gate = lin(W(`${p}mlp.gate_proj.weight`), f, d, x2);
      const up = lin(W(`${p}mlp.up_proj.weight`), f, d, x2);
      const m = lin(
        W(`${p}mlp.down_proj.weight`),
        d,
        f,
        up.map((u, i) => u * gelu(gate[i])),
      );
      const m2 = norm(m, W(`${p}post_feedforward_layernorm.weight`));
      return h1.map((v, i) => v + m2[i]);
    });
  }
  return hs.map((h) => lin(embed, V, d, norm(h, W('model.norm.weight'))));
}
