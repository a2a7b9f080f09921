"""What each fast-mode option costs in quality and buys in speed, on a shipped model's held-out test split.

    python bench/fast_mode.py [--checkpoint checkpoints/tatoeba-en-de.pt] [--src data/tatoeba-en-de/test.src]
                              [--ref data/tatoeba-en-de/test.tgt] [--json docs/fast-mode.json]

One process, one thread, the model's reported decoding (beam 5, GNMT alpha 0.6, batches of 50): the exact model,
then the shortlist, int8 and both, each with the exact and the heuristic stopping rule. For each: sacrebleu BLEU
and chrF, sentences per CPU-second (``time.process_time``: robust to other work on the machine; two rounds, the
better kept), how many outputs are identical to the exact model's, and the shortlist's mean size per batch.
docs/benchmarks.md#fast-mode shows the table (tests/test_fast_mode_docs.py checks it against the JSON).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODES = [(False, False), (True, False), (False, True), (True, True)]  # (shortlist, int8)


def table(doc: dict) -> str:
    """The Markdown table docs/benchmarks.md#fast-mode holds (tests/test_fast_mode_docs.py compares them)."""
    lines = ["| mode | stopping | BLEU | chrF | BLEU change | sentences per CPU-second | speed-up | outputs as exact |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in doc["rows"]:
        size = f" ({r['mean_shortlist_per_batch']:,} pieces per batch)" if r["mean_shortlist_per_batch"] else ""
        lines.append(f"| {r['mode']}{size} | {r['stopping']} | {r['bleu']:.2f} | {r['chrf']:.2f} | "
                     f"{r['bleu_change']:+.2f} | {r['sentences_per_cpu_s']:.1f} | {r['speedup_vs_exact']:.2f}× | "
                     f"{r['identical_to_exact']:,} / {doc['test_pairs']:,} |")
    return "\n".join(lines)


def main() -> int:
    import torch

    from nmt_core.batching import make_batch, sorted_batches
    from nmt_core.corpus import read_parallel
    from nmt_core.evaluation import corpus_scores
    from nmt_core.fast_mode import FastMode
    from nmt_core.translator import Translator

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=str(ROOT / "checkpoints/tatoeba-en-de.pt"))
    parser.add_argument("--src", default=str(ROOT / "data/tatoeba-en-de/test.src"))
    parser.add_argument("--ref", default=str(ROOT / "data/tatoeba-en-de/test.tgt"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json")
    parser.add_argument("--report", metavar="JSON", help="print the docs table of a saved result and exit")
    args = parser.parse_args()
    if args.report:
        print(table(json.loads(Path(args.report).read_text(encoding="utf-8"))))
        return 0
    torch.set_num_threads(1)
    translator = Translator.from_path(args.checkpoint, "cpu")
    pairs = read_parallel(args.src, args.ref)
    rows, exact_outputs = [], None
    for shortlist, int8 in MODES:
        for stopping in ("exact", "heuristic"):
            fast = FastMode(int8=int8, shortlist=shortlist)
            options = {"beam_size": 5, "length_penalty": "gnmt", "alpha": 0.6, "batch_size": 50,
                       "stopping": stopping, "fast": fast}
            translator.translate(pairs.src[:50], **options)  # warm-up (and the int8 copy is built)
            best = None
            for _ in range(args.rounds):
                start = time.process_time()
                outputs = translator.translate(pairs.src, **options)
                seconds = time.process_time() - start
                best = seconds if best is None else min(best, seconds)
            exact_outputs = outputs if exact_outputs is None else exact_outputs
            sizes = []
            if shortlist:
                prepared = [translator.prepare(s).ids for s in pairs.src]
                for index in sorted_batches([len(p) for p in prepared], 50):
                    batch = make_batch([prepared[i] for i in index])
                    sizes.append(len(translator.fast_models.shortlist.for_sources(batch.src)))
            scores = corpus_scores(outputs, pairs.tgt)
            row = {"mode": fast.label(), "stopping": stopping, "bleu": scores["bleu"], "chrf": scores["chrf"],
                   "sentences_per_cpu_s": round(len(pairs.src) / best, 1),
                   "identical_to_exact": sum(a == b for a, b in zip(outputs, exact_outputs)),
                   "mean_shortlist_per_batch": round(sum(sizes) / len(sizes)) if sizes else None}
            rows.append(row)
            print(json.dumps(row), flush=True)
    base = rows[0]["sentences_per_cpu_s"]
    for row in rows:
        row["speedup_vs_exact"] = round(row["sentences_per_cpu_s"] / base, 2)
        row["bleu_change"] = round(row["bleu"] - rows[0]["bleu"], 2)
    doc = {"checkpoint": Path(args.checkpoint).name, "test_pairs": len(pairs.src), "threads": 1,
           "decoding": "beam 5, GNMT alpha 0.6, batches of 50", "date": time.strftime("%Y-%m-%d"),
           "shortlist": translator.fast_models.describe(FastMode(shortlist=True)).get("shortlist_settings"),
           "rows": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(table(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
