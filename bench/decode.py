"""Decoding speed: sentences per second for greedy and beam 5, batched and one at a time, the cost
of recording the full beam trace (attention rows and rejected continuations), and the gain of no trace at all
(``trace=False``: what ``translate`` and ``evaluate`` run).

Run: ``python bench/decode.py [--checkpoint CKPT] [--sentences 1000] [--threads 1] [--device cpu]``.
Targets (docs/beam-trace.md, "Decoding speed"): batched beam 5 at least 5x faster than one sentence at
a time; ``record=True`` at most 1.3x slower than ``record=False``.

Without a checkpoint the model is randomly initialised at the default size (embeddings 128, hidden 256,
bidirectional LSTM encoder, additive attention, input feeding) with 300-piece vocabularies, and the
inputs are random 10-20 piece sentences. Speed does not depend on the weights, but a random model
rarely emits </s>, so the length cap (``--max-ratio``, default 0.9: 0.9 * (n+1) + 5 pieces) sets
outputs at about 1.2x the source length. With a checkpoint, the inputs are its test/dev split if one
is given with ``--src``, else the same random ids.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nmt_core.batching import make_batch, sorted_batches  # noqa: E402
from nmt_core.config import ModelConfig  # noqa: E402
from nmt_core.model import Seq2Seq  # noqa: E402
from nmt_core.search import beam_search, greedy_search  # noqa: E402


def random_setup(n: int, vocab: int, seed: int) -> tuple[Seq2Seq, list[list[int]]]:
    torch.manual_seed(seed)
    model = Seq2Seq(ModelConfig(src_vocab_size=vocab, tgt_vocab_size=vocab, dropout=0.0)).eval()
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(10, 21, (n,), generator=gen).tolist()
    return model, [torch.randint(4, vocab, (m,), generator=gen).tolist() for m in lengths]


def checkpoint_setup(path: str, src_file: str | None, n: int, seed: int, device: str):
    from nmt_core.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path, device)
    if src_file:
        lines = Path(src_file).read_text(encoding="utf-8").splitlines()[:n]
        return ckpt.model.eval(), [ckpt.tokenizers.src.encode(line)[:200] for line in lines]
    _, sources = random_setup(n, ckpt.config.model.src_vocab_size, seed)
    return ckpt.model.eval(), sources


def time_case(decode, src, lengths, device: torch.device) -> tuple[float, int]:
    """Seconds for one decode call and the number of output tokens."""
    start = time.perf_counter()
    tokens = sum(len(out) for out in decode(src, lengths))
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, tokens


def run(cases: dict, sources: list[list[int]], batch_size: int, device: torch.device) -> dict:
    """Decode every source with every case, batched and one at a time. The machine is shared, so the
    cases are interleaved chunk by chunk (a slow spell hits all of them alike): for each sorted chunk
    of ``batch_size`` sentences, each case decodes the chunk as one batch, then sentence by sentence."""
    totals = {(name, mode): [0.0, 0] for name in cases for mode in ("batched", "one at a time")}
    for index in sorted_batches([len(s) for s in sources], batch_size):
        batch = make_batch([sources[i] for i in index]).to(device)
        singles = [make_batch([sources[i]]).to(device) for i in index]
        for name, decode in cases.items():
            seconds, tokens = time_case(decode, batch.src, batch.src_lengths, device)
            totals[name, "batched"][0] += seconds
            totals[name, "batched"][1] += tokens
            for one in singles:
                seconds, tokens = time_case(decode, one.src, one.src_lengths, device)
                totals[name, "one at a time"][0] += seconds
                totals[name, "one at a time"][1] += tokens
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint")
    parser.add_argument("--src", help="with --checkpoint: a file of source sentences to decode")
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64, help="sentences per batch (default 64)")
    parser.add_argument("--beam-size", "--beam", type=int, default=5, dest="beam_size")
    parser.add_argument("--max-ratio", type=float, default=0.9)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--vocab", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.checkpoint:
        model, sources = checkpoint_setup(args.checkpoint, args.src, args.sentences, args.seed, args.device)
    else:
        model, sources = random_setup(args.sentences, args.vocab, args.seed)
    model = model.to(device)
    k, ratio = args.beam_size, args.max_ratio

    def greedy(src, lengths):
        return greedy_search(model, src, lengths, max_ratio=ratio)

    def beam(record, trace=True):
        def decode(src, lengths):
            results = beam_search(model, src, lengths, beam_size=k, max_ratio=ratio, record=record, trace=trace)
            return [r.best.tokens for r in results]
        return decode

    cases = {"greedy": greedy, f"beam {k}": beam(False), f"beam {k} record": beam(True),
             f"beam {k} text only": beam(False, trace=False)}
    n = len(sources)
    mean_src = sum(map(len, sources)) / n
    print(f"{n} sentences, mean source length {mean_src:.1f} pieces, {args.threads} thread(s), device {device}, "
          f"{'checkpoint ' + args.checkpoint if args.checkpoint else 'random model'}, "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters, batch {args.batch_size}")
    run(cases, sources[:4], 4, device)  # warm-up
    start = time.perf_counter()
    totals = run(cases, sources, args.batch_size, device)
    figures = {}
    for (name, mode), (seconds, tokens) in totals.items():
        figures[f"{name}, {mode}"] = {"seconds": round(seconds, 2), "sentences_per_s": round(n / seconds, 1),
                                      "mean_output_len": round(tokens / n, 1)}
        print(f"{name + ', ' + mode:32s} {n / seconds:8.1f} sentences/s  ({seconds:6.1f} s, "
              f"mean output {tokens / n:.1f} tokens)")
    print(f"(wall time {time.perf_counter() - start:.0f} s)")
    sp = lambda key: figures[key]["sentences_per_s"]  # noqa: E731
    summary = {
        "beam speed-up, batched vs one at a time": round(sp(f"beam {k}, batched") / sp(f"beam {k}, one at a time"), 1),
        "greedy speed-up, batched vs one at a time": round(sp("greedy, batched") / sp("greedy, one at a time"), 1),
        "recording cost, batched (record / plain time)":
            round(sp(f"beam {k}, batched") / sp(f"beam {k} record, batched"), 2),
        "recording cost, one at a time (record / plain time)":
            round(sp(f"beam {k}, one at a time") / sp(f"beam {k} record, one at a time"), 2),
        "text-only gain, batched (plain / text-only time)":
            round(sp(f"beam {k} text only, batched") / sp(f"beam {k}, batched"), 3),
        "text-only gain, one at a time (plain / text-only time)":
            round(sp(f"beam {k} text only, one at a time") / sp(f"beam {k}, one at a time"), 3),
    }
    for key, value in summary.items():
        print(f"{key}: {value}")
    if args.json:
        Path(args.json).write_text(json.dumps({"figures": figures, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
