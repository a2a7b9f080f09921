#!/usr/bin/env bash
# Train, export and score one shipped real-language model, exactly as docs/models.md records it:
#   scripts/ship_model.sh tatoeba-en-de            (the main model, ~57 min on 2 cores)
#   scripts/ship_model.sh tatoeba-en-de-noattn     (a contrast model, 20 min)
# Needs the Tatoeba file at data/tatoeba/deu.txt (mkdir -p data/tatoeba && unzip deu-eng.zip -d data/tatoeba).
# SKIP_TRAIN=1 reuses runs/NAME (for example after a training started by hand).
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1
py=${PY:-.venv/bin/python}
attribution="Data: Tatoeba sentence pairs (tatoeba.org) as packaged by www.manythings.org/anki, CC-BY 2.0 France"
if [ -z "${SKIP_TRAIN:-}" ]; then
  start=$(date +%s)
  $py -m nmt_core train "configs/$name.yaml" --run-dir "runs/$name"
  echo "wall_s=$(( $(date +%s) - start ))" | tee "runs/$name/wall.txt"
fi
examples=()
[ -f "configs/$name.examples.txt" ] && examples=(--examples "configs/$name.examples.txt")
[ -f "configs/tatoeba-en-de.examples.txt" ] && [ ${#examples[@]} -eq 0 ] && examples=(--examples configs/tatoeba-en-de.examples.txt)
$py -m nmt_core export "runs/$name/best.pt" "checkpoints/$name.pt" --weights int8 "${examples[@]}" \
  --test-sample 1000 --attribution "$attribution"
$py -m nmt_core split "configs/$name.yaml" --out data/tatoeba-en-de   # the same test split for every variant
$py -m nmt_core shortlist "checkpoints/$name.pt" --src data/tatoeba-en-de/train.src --tgt data/tatoeba-en-de/train.tgt
for ckpt in "runs/$name/best.pt" "checkpoints/$name.pt"; do   # float32 against int8: what the compact file costs
  record=(); [ "$ckpt" = "checkpoints/$name.pt" ] && record=(--record)
  $py -m nmt_core evaluate --checkpoint "$ckpt" --src data/tatoeba-en-de/test.src --ref data/tatoeba-en-de/test.tgt \
    --beam-size 5 --length-penalty gnmt --alpha 0.6 "${record[@]}" | tee -a "runs/$name/evaluations.jsonl"
  $py -m nmt_core evaluate --checkpoint "$ckpt" --src data/tatoeba-en-de/test.src --ref data/tatoeba-en-de/test.tgt \
    "${record[@]}" | tee -a "runs/$name/evaluations.jsonl"
done
