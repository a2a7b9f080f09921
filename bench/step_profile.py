"""Where a training step's time goes with 1 and 2 threads, by operator, and what the second thread could win at
best (issue 17, item 6; docs/benchmarks.md, "Threads").

``torch.profiler`` over the forward and backward passes, gradient clipping and Adam of the bench's 20 batches of
64 sentences (the small configuration, today's trainer: the hand-written teacher-forcing loop, the packed
encoder), once with 1 intra-op thread and once with 2, in one process. Operators are grouped into the matrix
products (``mm``, ``addmm``, ``bmm``, ``addmm_``) and everything else. The bound: if everything else gained a
perfect 2× from the second thread while the products kept their measured gain, how much faster would a 2-thread
step be than it is now?

Run: ``python bench/step_profile.py --json docs/threads/step-profile.json`` on an otherwise idle machine (about a
minute on 2 cores); ``--report docs/threads/step-profile.json`` prints the docs' table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch.profiler import profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import train_throughput as tt  # noqa: E402

from nmt_core.train import Trainer  # noqa: E402

PRODUCTS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::addmm_"}
SHOWN = 8  # operators listed by name in the table; the rest are summed


def training_step(trainer: Trainer) -> Callable[[Any], None]:
    """One whole training step on a batch, as the trainer takes it (forward, backward, clipping at 1.0, fused Adam),
    without its logging and bookkeeping; a small learning rate keeps the model where it was trained."""
    model, train = trainer.model, trainer.cfg.train
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=1e-5, fused=True)

    def step(b) -> None:
        loss, _ = trainer.loss_fn(b.src, b.src_lengths, b.tgt_in, b.tgt_out, train.label_smoothing, train.tbptt)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
    return step


def profiled_ms(trainer: Trainer, batches: list, threads: int) -> dict[str, float]:
    """Self CPU milliseconds per step of every operator (and of the autograd functions' own Python parts)."""
    torch.set_num_threads(threads)
    step = training_step(trainer)
    for b in batches[:5]:
        step(b)
    with profile() as prof:
        for b in batches:
            step(b)
    return {e.key: e.self_cpu_time_total / 1e3 / len(batches) for e in prof.key_averages()}


@contextmanager
def small_model_batches(count: int = 20) -> Iterator[tuple[Trainer, list]]:
    """A trainer of the small configuration on the bench's corpus (``train_throughput.py``'s, made once) and its
    first ``count`` training batches, as the trainer draws them."""
    tsv, _ = tt.prepare_corpus(tt.DEFAULT_CACHE, tt.DEFAULT_ZIP)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(tt.experiment("small", tsv, 2, 10**6, 0, "cpu"), Path(run_dir), progress_bar=False)
        trainer.model.train()
        stream = trainer._batches()
        yield trainer, [next(stream)[2] for _ in range(count)]


def measure() -> dict:
    with small_model_batches() as (trainer, batches):
        doc = {"load_average_start": os.getloadavg()[0], "batches": len(batches),
               "ms_per_step": {str(t): profiled_ms(trainer, batches, t) for t in (1, 2)}}
    doc["load_average_end"] = os.getloadavg()[0]
    return doc


def summary(doc: dict) -> dict[str, float]:
    """Products and the rest, per step, with 1 and 2 threads, and the bound on the 2-thread step."""
    one, two = doc["ms_per_step"]["1"], doc["ms_per_step"]["2"]
    part = lambda ops, products: sum(v for k, v in ops.items() if (k in PRODUCTS) == products)  # noqa: E731
    out = {"products_1": part(one, True), "products_2": part(two, True), "rest_1": part(one, False),
           "rest_2": part(two, False)}
    out["step_1"], out["step_2"] = out["products_1"] + out["rest_1"], out["products_2"] + out["rest_2"]
    out["best_step_2"] = out["products_2"] + out["rest_1"] / 2  # the rest at a perfect 2x, products as measured
    out["bound"] = out["step_2"] / out["best_step_2"]
    return out


def report(doc: dict) -> str:
    one, two = doc["ms_per_step"]["1"], doc["ms_per_step"]["2"]
    s = summary(doc)
    rows = ["| per step (ms) | 1 thread | 2 threads | gain |", "|---|---:|---:|---:|"]
    row = lambda name, a, b: rows.append(f"| {name} | {a:.1f} | {b:.1f} | {a / b:.2f}× |")  # noqa: E731
    row("matrix products (`mm`, `addmm`, `bmm`, `addmm_`)", s["products_1"], s["products_2"])
    for name in sorted((k for k in one if k not in PRODUCTS and k in two), key=lambda k: -one[k])[:SHOWN]:
        row(f"`{name.removeprefix('aten::')}`", one[name], two[name])
    row("everything other than products", s["rest_1"], s["rest_2"])
    row("the whole step", s["step_1"], s["step_2"])
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--report", type=Path, help="print the docs' table from this JSON and exit")
    args = parser.parse_args()
    doc = json.loads(args.report.read_text(encoding="utf-8")) if args.report else measure()
    if args.json and not args.report:
        args.json.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    s = summary(doc)
    print(report(doc))
    print(f"bound: {s['bound']:.3f}x (2-thread step {s['step_2']:.1f} ms, at best {s['best_step_2']:.1f} ms)")


if __name__ == "__main__":
    main()
