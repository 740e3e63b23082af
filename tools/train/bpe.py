#!/usr/bin/python3
"""Train a byte-level BPE tokenizer and save it as a Hugging Face tokenizer.json.

Usage: bpe.py VOCAB_SIZE OUT_DIR TEXT_FILE...
Ids: 0 <unk>, 1 <s>, 2 </s>, then the 256 byte symbols (GPT-2's printable byte alphabet), then one id per
merge, most frequent first. Pre-tokenization follows GPT-2's pattern (letters, digits, punctuation runs,
each with an optional leading space; whitespace runs), approximated with Python's `re`; the tokenizer
that encodes and decodes is always the tokenizer.json itself, so the approximation only affects which
merges are learned. Deterministic: ties between equally frequent pairs go to the smallest pair.
"""
import collections
import json
import os
import re
import sys

SPECIALS = ['<unk>', '<s>', '</s>']
PATTERN = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")


def byte_alphabet() -> list:
    """GPT-2's map from byte value to a printable character (what ByteLevel uses)."""
    printable = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    chars = {}
    extra = 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def train(texts: list, vocab_size: int):
    alphabet = byte_alphabet()
    words = collections.Counter()
    for text in texts:
        for piece in PATTERN.findall(text):
            words[''.join(alphabet[b] for b in piece.encode('utf-8'))] += 1
    seqs = [list(w) for w in words]
    freqs = list(words.values())
    pairs = collections.Counter()
    where = collections.defaultdict(set)
    for i, s in enumerate(seqs):
        for a, b in zip(s, s[1:]):
            pairs[(a, b)] += freqs[i]
            where[(a, b)].add(i)
    merges = []
    while len(SPECIALS) + 256 + len(merges) < vocab_size and pairs:
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        if pairs[best] < 2:
            break
        merges.append(best)
        joined = best[0] + best[1]
        for i in list(where[best]):
            s = seqs[i]
            f = freqs[i]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] -= f
                if pairs[(a, b)] <= 0:
                    del pairs[(a, b)]
            out = []
            j = 0
            while j < len(s):
                if j + 1 < len(s) and s[j] == best[0] and s[j + 1] == best[1]:
                    out.append(joined)
                    j += 2
                else:
                    out.append(s[j])
                    j += 1
            seqs[i] = out
            for a, b in zip(out, out[1:]):
                pairs[(a, b)] += f
                where[(a, b)].add(i)
        del where[best]
    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for ch in alphabet:
        vocab[ch] = len(vocab)
    for a, b in merges:
        vocab[a + b] = len(vocab)
    return vocab, merges


def tokenizer_json(vocab: dict, merges: list) -> dict:
    byte_level = {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True, 'use_regex': True}
    return {
        'version': '1.0',
        'truncation': None,
        'padding': None,
        'added_tokens': [
            {'id': i, 'content': t, 'single_word': False, 'lstrip': False, 'rstrip': False, 'normalized': False, 'special': True}
            for i, t in enumerate(SPECIALS)
        ],
        'normalizer': None,
        'pre_tokenizer': byte_level,
        'post_processor': {
            'type': 'TemplateProcessing',
            'single': [{'SpecialToken': {'id': '<s>', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}}],
            'pair': [
                {'SpecialToken': {'id': '<s>', 'type_id': 0}},
                {'Sequence': {'id': 'A', 'type_id': 0}},
                {'SpecialToken': {'id': '<s>', 'type_id': 1}},
                {'Sequence': {'id': 'B', 'type_id': 1}},
            ],
            'special_tokens': {'<s>': {'id': '<s>', 'ids': [1], 'tokens': ['<s>']}},
        },
        'decoder': byte_level,
        'model': {
            'type': 'BPE',
            'dropout': None,
            'unk_token': None,
            'continuing_subword_prefix': None,
            'end_of_word_suffix': None,
            'fuse_unk': False,
            'byte_fallback': False,
            'ignore_merges': False,
            'vocab': vocab,
            'merges': [f'{a} {b}' for a, b in merges],
        },
    }


def main() -> None:
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    vocab_size = int(sys.argv[1])
    out_dir = sys.argv[2]
    texts = [open(p, encoding='utf-8').read() for p in sys.argv[3:]]
    vocab, merges = train(texts, vocab_size)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, 'tokenizer.json'), 'w', encoding='utf-8') as f:
        json.dump(tokenizer_json(vocab, merges), f, ensure_ascii=False)
    config = {
        'tokenizer_class': 'PreTrainedTokenizerFast',
        'bos_token': '<s>',
        'eos_token': '</s>',
        'unk_token': '<unk>',
        'add_bos_token': True,
        'model_max_length': 512,
        # Byte-level decoding is already exact; the cleanup would eat spaces before quotes (" 'success").
        'clean_up_tokenization_spaces': False,
    }
    with open(os.path.join(out_dir, 'tokenizer_config.json'), 'w', encoding='utf-8') as f:
        json.dump(config, f, indent=2)
    print(f'{len(vocab)} tokens ({len(merges)} merges)')


if __name__ == '__main__':
    main()
