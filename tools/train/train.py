#!/usr/bin/python3
"""Train the project's default model: a small Llama (RMSNorm, RoPE, SwiGLU, multi-head attention) on
Jane Austen, and export it as a Hugging Face folder the engine loads.

Usage: /usr/bin/python3 train.py TRAIN.bin TOKENIZER_DIR OUT_DIR [--steps N] [--log FILE]
TRAIN.bin holds little-endian uint16 token ids (tools/train/encode-corpus.ts). Deterministic for a given
torch build and thread count: fixed seed, fixed batch order, 2 threads.
Writes OUT_DIR/{config.json, generation_config.json, model.safetensors, tokenizer.json,
tokenizer_config.json} and the log FILE (loss per logged step, time, settings).
"""
import argparse
import json
import math
import os
import shutil
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIG = {
    'hidden_size': 192,
    'num_hidden_layers': 6,
    'num_attention_heads': 6,
    'num_key_value_heads': 6,  # multi-head attention: XQuant's X is half the size of K + V
    'head_dim': 32,
    'intermediate_size': 512,
    'vocab_size': 2048,
    'max_position_embeddings': 512,
    'rms_norm_eps': 1e-5,
    'rope_theta': 10000.0,
}
SEED = 1234
BATCH = 16
CTX = 512
LR = 3e-3
WARMUP = 30


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.h, self.hd = c['hidden_size'], c['num_attention_heads'], c['head_dim']
        f = c['intermediate_size']
        self.input_layernorm = RMSNorm(d, c['rms_norm_eps'])
        self.q_proj = nn.Linear(d, self.h * self.hd, bias=False)
        self.k_proj = nn.Linear(d, self.h * self.hd, bias=False)
        self.v_proj = nn.Linear(d, self.h * self.hd, bias=False)
        self.o_proj = nn.Linear(self.h * self.hd, d, bias=False)
        self.post_attention_layernorm = RMSNorm(d, c['rms_norm_eps'])
        self.gate_proj = nn.Linear(d, f, bias=False)
        self.up_proj = nn.Linear(d, f, bias=False)
        self.down_proj = nn.Linear(f, d, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        a = self.input_layernorm(x)
        q, k, v = (p(a).view(B, T, self.h, self.hd).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        s = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd) + mask
        o = (F.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, T, -1)
        x = x + self.o_proj(o)
        m = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(m)) * self.up_proj(m))


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c['vocab_size'], c['hidden_size'])
        self.layers = nn.ModuleList([Block(c) for _ in range(c['num_hidden_layers'])])
        self.norm = RMSNorm(c['hidden_size'], c['rms_norm_eps'])
        hd = c['head_dim']
        inv = 1.0 / (c['rope_theta'] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
        ang = torch.arange(CTX, dtype=torch.float64)[:, None] * inv[None, :]
        ang = torch.cat((ang, ang), dim=-1)
        self.register_buffer('cos', ang.cos().float(), persistent=False)
        self.register_buffer('sin', ang.sin().float(), persistent=False)
        self.register_buffer('mask', torch.full((CTX, CTX), float('-inf')).triu(1), persistent=False)
        for mod in self.modules():
            if isinstance(mod, nn.Linear):
                nn.init.normal_(mod.weight, std=0.02)
            elif isinstance(mod, nn.Embedding):
                nn.init.normal_(mod.weight, std=0.02)
        for layer in self.layers:  # scaled residual projections (GPT-2)
            nn.init.normal_(layer.o_proj.weight, std=0.02 / math.sqrt(2 * c['num_hidden_layers']))
            nn.init.normal_(layer.down_proj.weight, std=0.02 / math.sqrt(2 * c['num_hidden_layers']))

    def forward(self, ids):
        T = ids.shape[1]
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, self.cos[:T], self.sin[:T], self.mask[:T, :T])
        return self.norm(x) @ self.embed_tokens.weight.t()  # tied LM head


def save_safetensors(path, tensors):
    header = {}
    offset = 0
    blobs = []
    for name, t in tensors.items():
        data = struct.pack(f'<{t.numel()}f', *t.detach().float().flatten().tolist())
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    head = json.dumps(header, separators=(',', ':')).encode()
    head += b' ' * ((8 - len(head) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


def export(model, tok_dir, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    c = model.c
    tensors = {'model.embed_tokens.weight': model.embed_tokens.weight}
    for i, l in enumerate(model.layers):
        p = f'model.layers.{i}.'
        tensors[p + 'input_layernorm.weight'] = l.input_layernorm.weight
        for n in ('q_proj', 'k_proj', 'v_proj', 'o_proj'):
            tensors[p + f'self_attn.{n}.weight'] = getattr(l, n).weight
        tensors[p + 'post_attention_layernorm.weight'] = l.post_attention_layernorm.weight
        for n in ('gate_proj', 'up_proj', 'down_proj'):
            tensors[p + f'mlp.{n}.weight'] = getattr(l, n).weight
    tensors['model.norm.weight'] = model.norm.weight
    save_safetensors(os.path.join(out_dir, 'model.safetensors'), tensors)
    config = {
        'architectures': ['LlamaForCausalLM'],
        'model_type': 'llama',
        **c,
        'hidden_act': 'silu',
        'attention_bias': False,
        'tie_word_embeddings': True,
        'bos_token_id': 1,
        'eos_token_id': 2,
        'torch_dtype': 'float32',
    }
    with open(os.path.join(out_dir, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(out_dir, 'generation_config.json'), 'w') as f:
        json.dump({'bos_token_id': 1, 'eos_token_id': 2, 'max_length': CTX}, f, indent=2)
    for name in ('tokenizer.json', 'tokenizer_config.json'):
        shutil.copy(os.path.join(tok_dir, name), os.path.join(out_dir, name))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('train')
    ap.add_argument('tokenizer')
    ap.add_argument('out')
    ap.add_argument('--steps', type=int, default=240)
    ap.add_argument('--log', default='train-log.json')
    a = ap.parse_args()
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    raw = open(a.train, 'rb').read()
    data = torch.tensor(struct.unpack(f'<{len(raw) // 2}H', raw), dtype=torch.long)
    windows = (len(data) - 1) // CTX
    model = Llama(CONFIG)
    params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': no_decay, 'weight_decay': 0.0}], lr=LR, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(SEED)
    order = torch.empty(0, dtype=torch.long)
    log = []
    started = time.time()
    print(f'{params} parameters, {len(data)} tokens, {windows} windows of {CTX}, {a.steps} steps of {BATCH} windows')
    for step in range(a.steps):
        if len(order) < BATCH:
            # every epoch: a fresh random offset and order of the windows
            shift = int(torch.randint(0, CTX, (1,), generator=gen))
            starts = torch.arange(0, len(data) - CTX - 1 - shift, CTX) + shift
            order = torch.cat((order, starts[torch.randperm(len(starts), generator=gen)]))
        batch, order = order[:BATCH], order[BATCH:]
        x = torch.stack([data[s:s + CTX] for s in batch.tolist()])
        y = torch.stack([data[s + 1:s + CTX + 1] for s in batch.tolist()])
        lr = LR * min(1.0, (step + 1) / WARMUP) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / a.steps)))
        for g in opt.param_groups:
            g['lr'] = lr
        loss = F.cross_entropy(model(x).view(-1, CONFIG['vocab_size']), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 10 == 0 or step == a.steps - 1:
            elapsed = time.time() - started
            log.append({'step': step, 'loss': round(loss.item(), 4), 'lr': lr, 'seconds': round(elapsed, 1)})
            print(f'step {step} loss {loss.item():.4f} lr {lr:.2e} {elapsed:.0f}s', flush=True)
    export(model, a.tokenizer, a.out)
    summary = {
        'config': CONFIG,
        'seed': SEED,
        'batch': BATCH,
        'ctx': CTX,
        'steps': a.steps,
        'tokens_seen': a.steps * BATCH * CTX,
        'train_tokens': len(data),
        'parameters': params,
        'seconds': round(time.time() - started, 1),
        'torch': torch.__version__,
        'log': log,
    }
    with open(a.log, 'w') as f:
        json.dump(summary, f, indent=1)


if __name__ == '__main__':
    main()
