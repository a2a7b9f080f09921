"""The same code on a GPU: the shipped models decode on CUDA as on the CPU, and a short training runs there.

    python bench/cuda_smoke.py [--device cuda]

Prints, per shipped checkpoint, how many of 200 test-like inputs get the same greedy and beam-5 output on
the GPU as on the CPU (floating-point order differs between devices, so a near-tie may flip), and the
steps/s of a short training run with and without autocast.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from nmt_core import tasks  # noqa: E402
from nmt_core.config import load_config  # noqa: E402
from nmt_core.train import Trainer  # noqa: E402
from nmt_core.translator import Translator  # noqa: E402


def agreement(path: Path, sentences: list[str], device: str) -> dict:
    cpu, gpu = Translator.from_path(path, "cpu"), Translator.from_path(path, device)
    row = {"checkpoint": path.name}
    for label, options in (("greedy", {}), ("beam5", {"beam_size": 5, "length_penalty": "gnmt"})):
        started = time.time()
        on_gpu = gpu.translate(sentences, **options)
        gpu_s = time.time() - started
        on_cpu = cpu.translate(sentences, **options)
        row[label] = {"same": sum(a == b for a, b in zip(on_cpu, on_gpu)), "of": len(sentences),
                      "gpu_sentences_per_s": round(len(sentences) / gpu_s, 1)}
    return row


def training_speed(device: str, amp: bool) -> dict:
    cfg = load_config(ROOT / "configs/toy-en-es.yaml", ["train.max_steps=300", "train.eval_every=300",
                                                         f"train.amp={str(amp).lower()}", "data.size=4000",
                                                         "train.time_budget_s=null"])
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, tmp, device=device, progress_bar=False)
        started = time.time()
        result = trainer.train()
        seconds = time.time() - started
    return {"amp": amp, "steps": result.step, "steps_per_s": round(result.step / seconds, 1),
            "dev_bleu": result.best_bleu, "state": result.state}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    print(json.dumps({"torch": torch.__version__, "cuda": torch.cuda.is_available(),
                      "name": torch.cuda.get_device_name() if torch.cuda.is_available() else None}), flush=True)
    toy = tasks.generate("toy-en-es", size=200, seed=7).src
    for path in sorted((ROOT / "checkpoints").glob("*.pt")):
        sentences = toy if path.name.startswith("toy") else [
            "my grandmother likes jazz.", "I am tired.", "Where is the station?", "Tom bought a new car.",
            "We have to talk about this tomorrow.", "She doesn't know what to do."] * 33
        print(json.dumps(agreement(path, sentences, args.device)), flush=True)
    for amp in (False, True):
        print(json.dumps(training_speed(args.device, amp)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
