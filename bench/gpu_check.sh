#!/usr/bin/env bash
# Everything this project measures on a GPU, in one call (the device tool lends one only now and then):
#   1. bench/cuda_smoke.py   the shipped models decode on CUDA as on the CPU; training speed with/without autocast
#   2. bench/recipe_sweep.py training recipes side by side (main 165k-pair model, quick 20k-pair recipe):
#      each variant trains for the target tokens that 55 min (main) or 10 min (quick) give on 2 CPU cores,
#      then its test BLEU is measured. Results: $OUT/*.jsonl (docs/models.md says what was chosen and why).
# Needs data/tatoeba/deu.txt and data/bench-20k/ (bench/bench_data.py): carry "data" with the call.
set -u
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
PY=${PY:-python3}
SWEEP_S=${SWEEP_S:-300}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"

main="base=train.batch_tokens=2400,train.max_steps=2766,train.warmup_steps=200"
$PY bench/recipe_sweep.py configs/tatoeba-en-de.yaml --work /tmp/sweep-main --out "$OUT/sweep-main.jsonl" \
  --max-seconds "$SWEEP_S" \
  --variant "$main" \
  --variant "lr3e-3=train.batch_tokens=2400,train.max_steps=2766,train.warmup_steps=200,train.lr=0.003" \
  --variant "bt1200=train.batch_tokens=1200,train.max_steps=5322,train.warmup_steps=400,train.lr=0.0015" \
  --variant "bt4800=train.batch_tokens=4800,train.max_steps=1576,train.warmup_steps=100,train.lr=0.003" \
  --variant "drop0.3=train.batch_tokens=2400,train.max_steps=2766,train.warmup_steps=200,model.dropout=0.3" \
  --variant "v4k=train.batch_tokens=2400,train.max_steps=2753,train.warmup_steps=200,tokenizer.vocab_size=4000" \
  --variant "ls0=train.batch_tokens=2400,train.max_steps=2766,train.warmup_steps=200,train.label_smoothing=0" \
  --variant "h384=train.batch_tokens=2400,train.max_steps=1844,train.warmup_steps=200,model.hidden_size=384,model.embedding_size=384" \
  > "$OUT/sweep-main.log" 2>&1 &
$PY bench/recipe_sweep.py configs/quick-20k.yaml --work /tmp/sweep-quick --out "$OUT/sweep-quick.jsonl" \
  --max-seconds "$SWEEP_S" \
  --variant "q=train.max_steps=990" \
  --variant "q-lr3e-3=train.max_steps=990,train.lr=0.003" \
  --variant "q-bt2400=train.batch_tokens=2400,train.max_steps=513,train.lr=0.003" \
  --variant "q-v8k=train.max_steps=974,tokenizer.vocab_size=8000" \
  --variant "q-v2k=train.max_steps=969,tokenizer.vocab_size=2000" \
  --variant "q-drop0.2=train.max_steps=990,model.dropout=0.2" \
  > "$OUT/sweep-quick.log" 2>&1 &
$PY bench/cuda_smoke.py 2>&1 | tee "$OUT/smoke.txt"
wait
cat "$OUT"/sweep-*.log
