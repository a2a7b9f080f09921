"""Three ways to give a training step's small operations to two cores, tried and measured (issue 17, item 6;
docs/benchmarks.md, "Threads"). None is used by the trainer: this records why.

1. **The encoder's two directions in lockstep** (``bench/lockstep_lstm.py``): one batched product and one set of
   elementwise operations per step for both directions, with a hand-written backward pass, against
   ``nn.LSTM`` on the packed batch (what training runs). Forward and backward of the small configuration's
   bidirectional encoder layer on the bench's own batches, 1 and 2 threads.
2. **Half a batch per core**: two Python threads, each with one intra-op thread, each computing the gradients of
   half the batch (``torch.autograd.grad``), summed; against the whole batch on two intra-op threads, and
   against half a batch alone on one thread (what perfect overlap would reach). Forward and backward only.
3. **Half a batch per process**: the project's own data-parallel training (``torchrun --nproc_per_node 2``, gloo,
   1 thread each; ``nmt_core/distributed.py``) against one process with 2 threads: whole training runs of
   ``--steps`` steps, source+target tokens/s from the runs' own logs after the first 50 steps.

Every setting alternates with the others for ``--rounds`` rounds; the median of the rounds is kept. The lockstep
layer is first checked against ``nn.LSTM`` in float64 (largest difference of outputs and gradients).

Run: ``python bench/two_cores.py --json docs/threads/two-cores.json`` on an otherwise idle machine (about 6
minutes on 2 cores); ``--report docs/threads/two-cores.json`` prints the docs' table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lockstep_lstm  # noqa: E402
import train_throughput as tt  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

from nmt_core.recurrent import _run_fused  # noqa: E402
from nmt_core.train import Trainer  # noqa: E402


def packed_reference(rnn, x, lengths):
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, (h, c) = rnn(packed)
    return pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0], h, c


def lockstep_difference() -> float:
    """Largest difference between the lockstep layer and ``nn.LSTM`` (float64, padding, both directions)."""
    torch.manual_seed(0)
    rnn = torch.nn.LSTM(3, 4, batch_first=True, bidirectional=True).double()
    x = torch.randn(5, 7, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([5, 7, 1, 3, 6])
    weights = [torch.randn(5, 7, 8, dtype=torch.float64), torch.randn(2, 5, 4, dtype=torch.float64),
               torch.randn(2, 5, 4, dtype=torch.float64)]
    results = []
    for run in (packed_reference, lockstep_lstm.lockstep_lstm):
        rnn.zero_grad()
        x.grad = None
        outputs = run(rnn, x, lengths)
        sum((o * w).sum() for o, w in zip(outputs, weights)).backward()
        results.append([o.detach() for o in outputs] + [x.grad.clone()] + [p.grad.clone() for p in rnn.parameters()])
    return max(float((a - b).abs().max()) for a, b in zip(*results))


def timed(run, batches, rounds: int, settings: dict[str, tuple[int, object]]) -> dict[str, float]:
    """Median milliseconds per batch of each setting (threads, function), the settings taking turns."""
    times: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(rounds):
        for name, (threads, fn) in settings.items():
            torch.set_num_threads(threads)
            for b in batches[:3]:
                run(fn, b)
            start = time.perf_counter()
            for b in batches:
                run(fn, b)
            times[name].append((time.perf_counter() - start) / len(batches) * 1e3)
    return {name: round(statistics.median(t), 1) for name, t in times.items()}


def measure(rounds: int, steps: int) -> dict:
    cache = tt.DEFAULT_CACHE  # the same corpus as train_throughput.py, made once
    cache.mkdir(parents=True, exist_ok=True)
    tsv, _ = tt.prepare_corpus(cache, tt.DEFAULT_ZIP)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(tt.experiment("small", tsv, 2, 10**6, 0, "cpu"), Path(run_dir), progress_bar=False)
        stream = trainer._batches()
        batches = [next(stream)[2] for _ in range(20)]
        doc = {"load_average_start": os.getloadavg()[0], "rounds": rounds, "batches": len(batches),
               "batch_shape": list(batches[0].src.shape), "lockstep_max_difference_float64": lockstep_difference(),
               **experiments(trainer, batches, rounds)}
    return {**doc, "training_src_tgt_tokens_per_s": data_parallel(tsv, steps)}


def data_parallel(tsv: Path, steps: int) -> dict[str, float]:
    """Source+target tokens/s of whole training runs: one process with 2 threads, two gloo processes with 1."""
    import yaml

    settings = {"one process, 2 threads": (2, [sys.executable, "-m", "nmt_core"]),
                "two processes (torchrun, gloo), 1 thread each":
                    (1, [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                         "-m", "nmt_core"])}
    out = {}
    for name, (threads, command) in settings.items():
        with tempfile.TemporaryDirectory() as work:
            cfg = tt.experiment("small", tsv, threads, steps, 0, "cpu").to_dict()
            cfg["train"]["log_every"] = 25
            (Path(work) / "cfg.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
            subprocess.run([*command, "train", str(Path(work) / "cfg.yaml"), "--run-dir", str(Path(work) / "run")],
                           check=True, capture_output=True, cwd=Path(__file__).resolve().parents[1])
            records = [json.loads(line) for line in (Path(work) / "run" / "metrics.jsonl").open(encoding="utf-8")]
        rates = [r["src_tokens_per_s"] + r["tgt_tokens_per_s"] for r in records
                 if r.get("kind") == "train" and r["step"] > 50]
        out[name] = round(statistics.mean(rates))
    return out


def experiments(trainer: Trainer, batches: list, rounds: int) -> dict:
    model, train = trainer.model, trainer.cfg.train
    model.train()
    rnn = model.encoder.layers[0]

    def encoder(fn, b):
        out, h, c = fn(rnn, model.src_embed(b.src), b.src_lengths)
        (out.sum() + h.sum() + c.sum()).backward()

    def packed(rnn_, x, lengths):
        return _run_fused(rnn_, x, lengths, None)

    encoder_ms = timed(encoder, batches, rounds, {
        "nn.LSTM, packed, 1 thread": (1, packed), "lockstep, 1 thread": (1, lockstep_lstm.lockstep_lstm),
        "nn.LSTM, packed, 2 threads": (2, packed), "lockstep, 2 threads": (2, lockstep_lstm.lockstep_lstm)})

    params = [p for p in model.parameters() if p.requires_grad]
    pool = ThreadPoolExecutor(1)

    def grads(b, lo, hi):
        loss, _ = trainer.loss_fn(b.src[lo:hi], b.src_lengths[lo:hi], b.tgt_in[lo:hi], b.tgt_out[lo:hi],
                                  train.label_smoothing, train.tbptt)
        return torch.autograd.grad(loss, params)

    def whole(b):
        grads(b, 0, b.src.shape[0])

    def half(b):
        grads(b, 0, b.src.shape[0] // 2)

    def two_halves(b):
        other = pool.submit(grads, b, 0, b.src.shape[0] // 2)
        mine = grads(b, b.src.shape[0] // 2, b.src.shape[0])
        torch._foreach_add_(list(mine), list(other.result()))

    def run_step(fn, b):
        pool.submit(torch.set_num_threads, torch.get_num_threads()).result()  # the helper thread's own count
        fn(b)

    step_ms = timed(run_step, batches, rounds, {
        "whole batch, 1 thread": (1, whole), "whole batch, 2 threads": (2, whole),
        "two halves, one Python thread each (1 thread each)": (1, two_halves),
        "half a batch alone, 1 thread (perfect overlap)": (1, half)})
    return {"encoder_forward_backward_ms": encoder_ms, "gradient_step_ms": step_ms}


def report(doc: dict) -> str:
    """The docs' table: each experiment's milliseconds and its speed-up over what training does today."""
    enc, step = doc["encoder_forward_backward_ms"], doc["gradient_step_ms"]
    lines = ["| experiment | today | tried | speed-up |", "|---|---:|---:|---:|"]
    for threads in ("1 thread", "2 threads"):
        today, tried = enc[f"nn.LSTM, packed, {threads}"], enc[f"lockstep, {threads}"]
        lines.append(f"| encoder layer forward + backward, lockstep directions, {threads} | {today} ms | {tried} ms "
                     f"| {today / tried:.2f}× |")
    today, tried = step["whole batch, 2 threads"], step["two halves, one Python thread each (1 thread each)"]
    lines.append(f"| gradients of a batch, two halves on two Python threads, against 2 threads | {today} ms | "
                 f"{tried} ms | {today / tried:.2f}× |")
    ideal = step["half a batch alone, 1 thread (perfect overlap)"]
    lines.append(f"| the same, if the halves overlapped perfectly (half a batch alone) | {today} ms | {ideal} ms | "
                 f"{today / ideal:.2f}× |")
    runs = doc["training_src_tgt_tokens_per_s"]
    today, tried = runs["one process, 2 threads"], runs["two processes (torchrun, gloo), 1 thread each"]
    lines.append(f"| training, two processes of 1 thread (torchrun, gloo), source+target tokens/s | {today:,} | "
                 f"{tried:,} | {tried / today:.2f}× |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds in which the settings take turns")
    parser.add_argument("--steps", type=int, default=200, help="training steps of each whole run (experiment 3)")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--report", type=Path, metavar="JSON", help="print the docs' table from JSON, measure nothing")
    args = parser.parse_args()
    if args.report:
        print(report(json.loads(args.report.read_text(encoding="utf-8"))))
        return
    if not 1 <= args.rounds <= 20:
        parser.error(f"--rounds must be in 1..20, got {args.rounds}")
    if not 75 <= args.steps <= 2000:
        parser.error(f"--steps must be in 75..2000, got {args.steps}")
    doc = measure(args.rounds, args.steps)
    print(json.dumps(doc, indent=1))
    print(report(doc))
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
