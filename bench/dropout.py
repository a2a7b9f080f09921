"""Dropout masks and the second thread: torch's ``bernoulli_`` (inside ``F.dropout``) against masks made from
random bits, alone and in whole training steps (issue 17, item 6; docs/benchmarks.md, "Threads"). Tried and
not kept: the trainer uses ``nn.Dropout``; this records why.

Why it was tried: on CPU ``bernoulli_`` draws one element at a time from the generator (about 13 ns per element
here) and gains nothing from a second intra-op thread. ``random_bits_dropout`` takes two elements from each
64-bit draw of the same generator (each signed 32-bit half compared with p scaled to 2**32) and leaves the
threshold and the product to ordinary elementwise operations.

1. **Per step**: the dropout calls of one small-configuration training step (their shapes recorded from the
   bench's own batches), forward and backward, each way, with 1 and 2 threads.
2. **Whole steps**: forward, backward, clipping and Adam on the bench's batches of 64 sentences, the two
   dropouts taking turns batch set by batch set, ``--rounds`` rounds, median milliseconds per step.
3. **Profile**: ``bernoulli_``'s self time and share in ``torch.profiler`` over the same batches' forward and
   backward passes, with 1 and 2 threads.

Run: ``python bench/dropout.py --json docs/threads/dropout.json`` on an otherwise idle machine (about 3 minutes
on 2 cores); ``--report docs/threads/dropout.json`` prints the docs' table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from step_profile import small_model_batches, training_step  # noqa: E402

from nmt_core.train import Trainer  # noqa: E402

BERNOULLI = F.dropout


def random_bits_dropout(x: torch.Tensor, p: float, training: bool = True, inplace: bool = False) -> torch.Tensor:
    """Training-mode dropout (``F.dropout``'s signature): each element zeroed with probability p (rounded to
    2**-32), the rest scaled by 1 / (1 - p); autograd's gradient is the upstream one times the scaled mask."""
    if not training or p == 0.0:
        return x
    n = x.numel()
    draws = torch.empty((n + 1) // 2, dtype=torch.int64).random_(-(2**63), None)  # full 64-bit range
    halves = draws.view(torch.int32)[:n].view(x.shape)
    keep = (halves >= round(p * 2**32) - 2**31).to(x.dtype).mul_(1.0 / (1.0 - p))
    return x * keep


WAYS = {"F.dropout (bernoulli_)": BERNOULLI, "random bits": random_bits_dropout}


def use(way: str) -> None:
    F.dropout = WAYS[way]  # what ``nn.Dropout.forward`` looks up at each call


def step_shapes(trainer: Trainer, batch) -> list[tuple[int, ...]]:
    """The shapes every dropout call of one training step sees."""
    shapes: list[tuple[int, ...]] = []
    hooks = [m.register_forward_hook(lambda _m, args, _out: shapes.append(tuple(args[0].shape)))
             for m in trainer.model.modules() if isinstance(m, torch.nn.Dropout)]
    train = trainer.cfg.train
    trainer.loss_fn(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out, train.label_smoothing, train.tbptt)
    for hook in hooks:
        hook.remove()
    return shapes


def per_step_dropout_ms(shapes: list[tuple[int, ...]], threads: int, repeats: int = 30) -> dict[str, float]:
    torch.set_num_threads(threads)
    inputs = [torch.randn(s, requires_grad=True) for s in shapes]
    out = {}
    for way, fn in WAYS.items():
        times = []
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(repeats):
                for x in inputs:
                    fn(x, 0.2).sum().backward()
            times.append((time.perf_counter() - start) / repeats * 1e3)
        out[way] = round(min(times), 2)
    return out


def whole_steps_ms(trainer: Trainer, batches: list, threads: int,
                   rounds: int) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Median milliseconds per step of each way, and every round's figure."""
    torch.set_num_threads(threads)
    step = training_step(trainer)
    times: dict[str, list[float]] = {way: [] for way in WAYS}
    for _ in range(rounds):
        for way in WAYS:
            use(way)
            for b in batches[:2]:
                step(b)
            start = time.perf_counter()
            for b in batches:
                step(b)
            times[way].append((time.perf_counter() - start) / len(batches) * 1e3)
    use("F.dropout (bernoulli_)")
    return {way: round(statistics.median(t), 1) for way, t in times.items()}, {
        way: [round(x, 1) for x in t] for way, t in times.items()}


def bernoulli_share(trainer: Trainer, batches: list, threads: int) -> dict[str, float]:
    """Self time of ``bernoulli_`` in ``torch.profiler`` over the batches' training steps, and its share."""
    from torch.profiler import profile

    torch.set_num_threads(threads)
    train = trainer.cfg.train
    with profile() as prof:
        for b in batches:
            loss, _ = trainer.loss_fn(b.src, b.src_lengths, b.tgt_in, b.tgt_out, train.label_smoothing, train.tbptt)
            loss.backward()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    bernoulli = sum(e.self_cpu_time_total for e in events if e.key == "aten::bernoulli_")
    return {"bernoulli_ms": round(bernoulli / 1e3, 1), "all_ms": round(total / 1e3, 1),
            "bernoulli_share": round(bernoulli / total, 4)}


def measure(rounds: int) -> dict:
    with small_model_batches() as (trainer, batches):
        shapes = step_shapes(trainer, batches[0])
        torch.manual_seed(0)
        dropped = random_bits_dropout(torch.ones(2_000_000), 0.2) == 0  # both halves of each draw, at p = 0.2
        doc = {"load_average_start": os.getloadavg()[0], "rounds": rounds, "batches": len(batches),
               "random_bits_drop_rate_even_odd": [round(dropped[k::2].double().mean().item(), 5) for k in (0, 1)],
               "step_dropout_shapes": shapes, "step_dropout_elements": sum(torch.Size(s).numel() for s in shapes)}
        for threads in (1, 2):
            medians, per_round = whole_steps_ms(trainer, batches, threads, rounds)
            doc[f"{threads} thread(s)"] = {"dropout_per_step_ms": per_step_dropout_ms(shapes, threads),
                                           "training_step_ms": medians, "training_step_ms_rounds": per_round,
                                           "profile_forward_backward": bernoulli_share(trainer, batches, threads)}
    doc["load_average_end"] = os.getloadavg()[0]
    return doc


def report(doc: dict) -> str:
    rows = ["| | F.dropout (bernoulli_) | random bits | speed-up |", "|---|---:|---:|---:|"]
    for threads in (1, 2):
        part = doc[f"{threads} thread(s)"]
        label = "1 thread" if threads == 1 else "2 threads"
        for name, key in (("dropout of one step, forward + backward", "dropout_per_step_ms"),
                          ("whole training step", "training_step_ms")):
            old, new = part[key].values()
            rows.append(f"| {name}, {label} (ms) | {old} | {new} | {old / new:.2f}× |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--report", type=Path, help="print the docs' table from this JSON and exit")
    args = parser.parse_args()
    if args.report:
        print(report(json.loads(args.report.read_text(encoding="utf-8"))))
        return
    if not 1 <= args.rounds <= 20:
        parser.error(f"--rounds must be in 1..20, got {args.rounds}")
    doc = measure(args.rounds)
    print(json.dumps(doc, indent=1))
    print(report(doc))
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
