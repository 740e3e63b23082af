#!/usr/bin/python3
"""Held-out evaluation of the exported model with torch (fast), by the protocol of shared/models/README.md:
the held-out ids (encoded once, without BOS) cut into consecutive windows of ctx-1 ids, each prefixed
with BOS, every next-token prediction scored. Also a character unigram baseline fitted on the training
text (add-one smoothing over the characters of both texts).

Usage: evaluate.py MODEL_DIR HELDOUT.bin HELDOUT.txt OUT.json TRAIN.txt...
Writes per-window NLL sums so the engine can be checked against the same windows.
"""
import collections
import json
import math
import struct
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit('/', 1)[0])
from train import CONFIG, CTX, Llama  # noqa: E402


def load(model_dir):
    raw = open(f'{model_dir}/model.safetensors', 'rb').read()
    (n,) = struct.unpack_from('<Q', raw, 0)
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    model = Llama(CONFIG)
    state = {}
    for name, e in header.items():
        if name == '__metadata__':
            continue
        b, end = e['data_offsets']
        values = struct.unpack_from(f'<{(end - b) // 4}f', raw, base + b)
        key = name.removeprefix('model.').replace('self_attn.', '').replace('mlp.', '')
        state[key] = torch.tensor(values, dtype=torch.float32).view(e['shape'])
    model.load_state_dict(state)
    return model.eval()


def main():
    model_dir, heldout_bin, heldout_txt, out_json, *train_txt = sys.argv[1:]
    torch.set_num_threads(2)
    model = load(model_dir)
    raw = open(heldout_bin, 'rb').read()
    ids = list(struct.unpack(f'<{len(raw) // 2}H', raw))
    if ids and ids[-1] == 2:
        ids = ids[:-1]  # encode-corpus.ts ends each file with </s>
    n = CTX - 1
    windows = [[1] + ids[w * n:(w + 1) * n] for w in range(len(ids) // n)]
    nll = []
    with torch.no_grad():
        for i in range(0, len(windows), 8):
            batch = torch.tensor(windows[i:i + 8])
            logits = model(batch[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1), reduction='none')
            nll += loss.view(batch.shape[0], -1).sum(1).tolist()
    scored = len(windows) * n
    text = open(heldout_txt, encoding='utf-8').read()
    train = ''.join(open(p, encoding='utf-8').read() for p in train_txt)
    counts = collections.Counter(train)
    alphabet = set(counts) | set(text)
    total = sum(counts.values()) + len(alphabet)
    unigram_nll = -sum(math.log((counts[c] + 1) / total) for c in text) / len(text)
    json.dump(
        {
            'ctx': CTX,
            'windows': len(windows),
            'scored_tokens': scored,
            'window_nll': nll,
            'ppl_token': math.exp(sum(nll) / scored),
            'nll_sum': sum(nll),
            'unigram_char_ppl': math.exp(unigram_nll),
            'unigram_alphabet': len(alphabet),
        },
        open(out_json, 'w'),
        indent=1,
    )
    print(f'held-out ppl per token {math.exp(sum(nll) / scored):.3f} over {scored} tokens; character unigram ppl {math.exp(unigram_nll):.3f}')


if __name__ == '__main__':
    main()
