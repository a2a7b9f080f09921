"""How long the studio takes to answer one sentence, model side and whole page.

1. Model side: one 20-token sentence with everything the inspection pages show: beam search (k=5, 5-best,
   full trace with attention rows and rejected continuations), the teacher-forced attention matrix, every
   gate of every layer (replayed cells), and per-timestep gradient norms with the salience matrix.
   Target: median <= 200 ms on 2 CPU cores.
2. Page runs: each studio page run headless under Streamlit's AppTest with the model already loaded,
   "cold" (result caches cleared, so the page computes everything) and "warm" (a rerun served from the
   caches, what a slider move on another widget costs).

Run: ``python bench/app_latency.py [--checkpoint checkpoints/toy-en-es.pt] [--repeats 20] [--threads 2]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from nmt_core import inspection, tasks  # noqa: E402
from nmt_core.translator import Translator  # noqa: E402

PAGES = ["1_Translate.py", "2_Attention.py", "3_Gates.py", "4_Gradients.py", "5_Train.py", "6_Compare.py",
         "7_Data.py"]


def default_checkpoint() -> Path:
    for candidate in (ROOT / "checkpoints" / "toy-en-es.pt", ROOT / "runs" / "toy-en-es" / "best.pt"):
        if candidate.exists():
            return candidate
    raise SystemExit("no checkpoint: pass --checkpoint (e.g. a runs/<name>/best.pt)")


def sentences_of(translator: Translator, n_tokens: int, count: int) -> list[str]:
    """``count`` source sentences of exactly ``n_tokens`` pieces from the model's own task (or repeated words)."""
    task = translator.checkpoint.config.data.task
    found = []
    if task:
        pairs = tasks.generate(task, size=5000, seed=7)
        found = [src for src in pairs.src if len(translator.tokenizers.src.encode(src)) == n_tokens][:count]
    words = ["the", "red", "car", "is", "fast", "and", "the", "small", "dog", "is", "slow"]
    while len(found) < count:
        found.append(" ".join((words * 4)[len(found) % len(words):][:n_tokens]))
    return found


def time_model_side(translator: Translator, sentence: str, repeats: int) -> dict:
    model, toks = translator.model, translator.tokenizers
    parts = {"beam5_trace": [], "attention": [], "gates": [], "gradients": [], "total": []}
    for i in range(repeats + 2):  # two warm-up rounds
        t0 = time.perf_counter()
        result = translator.beam_search(sentence, beam_size=5, nbest=5, record=True)
        t1 = time.perf_counter()
        target = result.best.text
        if model.attention is not None:
            inspection.attention_matrix(model, toks, sentence, target)
        t2 = time.perf_counter()
        inspection.gate_trace(model, toks, sentence, target)
        t3 = time.perf_counter()
        inspection.gradient_flow(model, toks, sentence, target)
        t4 = time.perf_counter()
        if i >= 2:
            for name, seconds in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)):
                parts[name].append(seconds * 1000)
    return {name: {"median_ms": round(statistics.median(v), 1), "p90_ms": round(sorted(v)[int(0.9 * (len(v) - 1))], 1)}
            for name, v in parts.items()}


def time_pages(checkpoint: Path, sentences: list[str]) -> dict:
    """Median wall time of AppTest page runs with the model loaded: "cold" = a sentence the page has not
    seen (every result computed), "warm" = the same page run again (results from the caches)."""
    from streamlit.testing.v1 import AppTest

    folder = Path(tempfile.mkdtemp(prefix="nmt-bench-"))
    (folder / "checkpoints").mkdir()
    (folder / "runs").mkdir()
    os.symlink(checkpoint.resolve(), folder / "checkpoints" / "toy-en-es.pt")
    os.environ.update(NMT_STUDIO_CHECKPOINTS=str(folder / "checkpoints"), NMT_STUDIO_RUNS=str(folder / "runs"))
    AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()  # imports and the model load
    out = {}
    for page in PAGES:
        cold, warm = [], []
        for sentence in sentences:
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
            at.session_state["s"] = f"{sentence} {page}"  # unseen by the result caches
            t0 = time.perf_counter()
            at.switch_page(f"pages/{page}").run()
            t1 = time.perf_counter()
            at.run()
            t2 = time.perf_counter()
            if at.exception:
                raise SystemExit(f"{page}: {at.exception[0].message}")
            cold.append((t1 - t0) * 1000)
            warm.append((t2 - t1) * 1000)
        out[page] = {"cold_ms": round(statistics.median(cold)), "warm_ms": round(statistics.median(warm))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--page-repeats", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-pages", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    checkpoint = args.checkpoint or default_checkpoint()
    translator = Translator.from_path(checkpoint, "cpu")
    sentences = sentences_of(translator, args.tokens, max(1, args.page_repeats) + 1)
    sentence = sentences[0]
    report = {"checkpoint": str(checkpoint), "threads": args.threads, "sentence": sentence,
              "pieces": len(translator.tokenizers.src.encode(sentence)),
              "parameters": translator.model.num_parameters(),
              "model_side": time_model_side(translator, sentence, args.repeats)}
    if not args.skip_pages:
        report["pages"] = time_pages(checkpoint, sentences[1:])
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
