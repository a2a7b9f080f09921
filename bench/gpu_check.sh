#!/usr/bin/env bash
# Everything this project measures on a GPU, in one call (the device tool lends one only now and then), in
# under 8 minutes on one H100: for the small and the medium configuration (bench/train_throughput.py), training
# source+target tokens/s and peak GPU memory, then beam-5 (exact and heuristic stop, shortlist) and greedy
# sentences/s on the 1,000 test sentences; then bench/cuda_smoke.py (the shipped models decode on CUDA as on
# the CPU). It FAILS LOUDLY (exit 1, "CPU FALLBACK") when CUDA is missing or any measured path did not run on
# the GPU: the training worker's device, the decoding worker's device and its peak GPU memory are checked.
# It also runs tests/test_teacher_forcing.py, whose equality test then covers cuda as well.
#
#   device tool:  run  bash bench/gpu_check.sh   with carry ["data/tatoeba"]   (data/tatoeba/deu.txt, 12 MB)
#   results:      $OUT/small.json, $OUT/medium.json, $OUT/*.log, $OUT/smoke.txt; docs/benchmarks.md#gpu records them
set -euo pipefail
OUT=${OUT:-/tmp/gpu-check}
PY=${PY:-python3}
CORPUS=${CORPUS:-data/tatoeba/deu.txt}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
die() { echo "GPU CHECK FAILED: $*" >&2; exit 1; }

$PY -c "import torch, sys; ok = torch.cuda.is_available(); print('torch', torch.__version__, 'cuda', ok, \
torch.cuda.get_device_name() if ok else ''); sys.exit(0 if ok else 1)" || die "CPU FALLBACK: torch sees no CUDA device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
[ -f "$CORPUS" ] || die "no $CORPUS (carry data/tatoeba with the call)"

for config in small medium; do
  steps=300; [ "$config" = medium ] && steps=150
  $PY bench/train_throughput.py --config "$config" --device cuda --steps "$steps" --warmup 10 --fast \
      --corpus "$CORPUS" --json "$OUT/$config.json" 2>&1 | tee "$OUT/$config.log"
  $PY - "$OUT/$config.json" <<'EOF' || die "CPU FALLBACK in the $config run (see above)"
import json, sys
doc = json.load(open(sys.argv[1]))
ours, dec = doc["ours"], doc["decode"]
problems = []
if not str(ours.get("device", "")).startswith("cuda"):
    problems.append(f"training ran on {ours.get('device')!r}")
if not str(dec.get("device", "")).startswith("cuda"):
    problems.append(f"decoding ran on {dec.get('device')!r}")
if not dec.get("peak_gpu_memory_mib"):
    problems.append("decoding allocated no GPU memory")
rows = {k: v["sentences_per_s"] for k, v in dec.items() if isinstance(v, dict) and "sentences_per_s" in v}
print(json.dumps({"config": ours["config"], "train_src_tgt_tokens_per_s": ours["src_tgt_tokens_per_s"],
                  "train_peak_gpu_memory_mib": ours["peak_memory_mib"], "decode_sentences_per_s": rows,
                  "decode_peak_gpu_memory_mib": dec.get("peak_gpu_memory_mib")}))
for p in problems:
    print("CPU FALLBACK:", p)
sys.exit(1 if problems else 0)
EOF
done
# the hand-written teacher-forcing backward pass against autograd, on the GPU (training with amp=false takes it)
timeout 120 $PY -m pytest -q -p no:cacheprovider tests/test_teacher_forcing.py 2>&1 | tail -3 | tee "$OUT/teacher_forcing.txt" \
  || echo "TEACHER FORCING ON CUDA: failed, or no pytest on this machine (see above)"
timeout 150 $PY bench/cuda_smoke.py 2>&1 | tee "$OUT/smoke.txt" || echo "cuda_smoke did not finish in 150 s (the figures above stand)"
echo "GPU CHECK PASSED"
