#!/usr/bin/env bash
# npm run train-default-model: the demo's default model, end to end and deterministic.
#   corpus (Debian's r-cran-janeaustenr) -> byte-level BPE (2048) -> ids -> torch training -> HF folder
#   -> model card (held-out perplexity on Pride and Prejudice, greedy sample, loss curve).
# Needs /usr/bin/python3 with Debian's python3-torch; libopenblas0-pthread makes it about 20x faster.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=tools/train/work
OUT=public/models/austen-3m
PY=/usr/bin/python3
mkdir -p "$WORK"

if ! $PY -c 'import torch' 2>/dev/null; then
  echo "installing python3-torch and libopenblas0-pthread (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch libopenblas0-pthread >/dev/null
fi

$PY tools/train/extract_austen.py "$WORK"
TRAIN=("$WORK"/emma.txt "$WORK"/mansfieldpark.txt "$WORK"/northangerabbey.txt "$WORK"/persuasion.txt "$WORK"/sensesensibility.txt)
$PY tools/train/bpe.py 2048 "$WORK/tokenizer" "${TRAIN[@]}"
npx tsx tools/train/encode-corpus.ts "$WORK/tokenizer" "$WORK/train.bin" "${TRAIN[@]}"
npx tsx tools/train/encode-corpus.ts "$WORK/tokenizer" "$WORK/heldout.bin" "$WORK/prideprejudice.txt"
$PY tools/train/train.py "$WORK/train.bin" "$WORK/tokenizer" "$OUT" --log "$WORK/train-log.json" "$@"
$PY tools/train/evaluate.py "$OUT" "$WORK/heldout.bin" "$WORK/prideprejudice.txt" "$WORK/eval.json" "${TRAIN[@]}"
npx tsx tools/train/model-card.ts "$WORK" "$OUT"
