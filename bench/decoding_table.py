"""The decoding table of docs/benchmarks.md#decoding-for-a-class from the saved ``--decode-from ... --fast`` runs.

    python bench/decoding_table.py docs/decoding/beam-1thread-round1.json docs/decoding/beam-1thread-round2.json \
        docs/decoding/beam-2threads.json

Each file is one ``bench/train_throughput.py --decode-from WORK --peer --fast --threads N --json FILE`` run: both
toolkits decode the same 1,000 test sentences with models trained for the same 2,010 steps, one after the other in
one process tree. The table gives, per run, our sentences/s, JoeyNMT's beam-5 (or greedy) sentences/s and the
ratio, and our test BLEU; tests/test_decoding_docs.py checks that docs/benchmarks.md holds exactly this table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROWS = ["beam5", "beam5, heuristic stop", "beam5, shortlist", "beam5, int8", "beam5, int8 + shortlist",
        "beam5, int8 + shortlist, heuristic stop", "greedy"]


def table(runs: list[tuple[str, dict]]) -> str:
    head = "| ours | " + " | ".join(f"{name}: ours / JoeyNMT (ratio)" for name, _ in runs) + " | test BLEU |"
    lines = [head, "|---|" + "---:|" * (len(runs) + 1)]
    for mode in ROWS:
        cells = []
        for _, doc in runs:
            ours, peer = doc["decode"].get(mode), doc["peer"].get("greedy" if mode == "greedy" else "beam5")
            if ours is None or peer is None:
                cells.append("-")
                continue
            a, b = ours["sentences_per_s"], peer["sentences_per_s"]
            cells.append(f"{a:.1f} / {b:.1f} (**{a / b:.2f}×**)")
        bleu = runs[0][1]["decode"][mode]["bleu"]
        label = mode.replace("beam5", "beam 5")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {bleu:.2f} |")
    peer = runs[0][1]["peer"]
    lines.append("| JoeyNMT 2.3.0, beam 5 / greedy: test BLEU | " + " | ".join("" for _ in runs)
                 + f" | {peer['beam5']['bleu']:.2f} / {peer['greedy']['bleu']:.2f} |")
    return "\n".join(lines)


def load(paths: list[str]) -> list[tuple[str, dict]]:
    names = {"beam-1thread-round1": "1 thread, round 1", "beam-1thread-round2": "1 thread, round 2",
             "beam-2threads": "2 threads", "text-only-1thread-round1": "text only, 1 thread, round 1",
             "text-only-1thread-round2": "text only, 1 thread, round 2", "text-only-2threads": "text only, 2 threads"}
    return [(names.get(Path(p).stem, Path(p).stem), json.loads(Path(p).read_text(encoding="utf-8"))) for p in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="train_throughput.py --decode-from ... --json files")
    args = parser.parse_args()
    missing = [str(p) for p in args.runs if not p.is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    print(table(load([str(p) for p in args.runs])))


if __name__ == "__main__":
    main()
