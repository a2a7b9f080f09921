"""The table of shipped models in docs/models.md, generated from the checkpoints themselves.

Every number in it (parameters, size, steps, training time, test BLEU/chrF and the data they were measured
on) is read from the checkpoint files: the training history the trainer stored and the evaluations that
``python -m nmt_core evaluate --record`` added. ``tests/test_shipped_models.py`` checks that the table in
docs/models.md is the one this script prints, so the docs cannot drift from the files.

    python scripts/models_table.py            # print the table
    python scripts/models_table.py --write    # replace the table between the markers in docs/models.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nmt_core.checkpoint import load_checkpoint  # noqa: E402

DOC = ROOT / "docs" / "models.md"
BEGIN, END = "<!-- models-table:begin (scripts/models_table.py) -->", "<!-- models-table:end -->"
SWEEP_BEGIN, SWEEP_END = "<!-- sweep-table:begin (scripts/models_table.py) -->", "<!-- sweep-table:end -->"
SWEEPS = ROOT / "docs" / "sweeps"
INT8_BEGIN, INT8_END = "<!-- int8-table:begin (scripts/models_table.py) -->", "<!-- int8-table:end -->"
INT8 = ROOT / "docs" / "int8-cost.json"  # written by scripts/ship_model.sh's two evaluations of each model


def architecture(cfg) -> str:
    m = cfg.model
    enc = f"{'bi' if m.bidirectional else 'uni'}{m.cell.upper()} {m.hidden_size}"
    return f"{enc} → {m.cell.upper()} {m.hidden_size}, attention {m.attention}" + (", tied" if m.tie_embeddings else "")


def best_evaluation(evaluations: list[dict]) -> dict | None:
    """The beam-5 test record if there is one, else the latest."""
    beam = [e for e in evaluations if e.get("beam_size") == 5]
    return (beam or evaluations or [None])[-1]


def row(path: Path) -> str:
    ckpt = load_checkpoint(path)
    train_rows = [h for h in ckpt.history if h.get("kind") in ("train", "dev") and "elapsed_s" in h]
    seconds = max((h["elapsed_s"] for h in train_rows), default=0.0)
    ev = best_evaluation(ckpt.extra.get("evaluations") or [])
    score = "–" if ev is None else f"**{ev['bleu']:.2f}** / {ev['chrf']:.2f}"
    command = "–" if ev is None else (
        f"`python -m nmt_core evaluate --checkpoint checkpoints/{path.name} --src {ev['src']} --ref {ev['ref']} "
        f"--beam-size {ev['beam_size']} --length-penalty {ev['length_penalty']} --alpha {ev['alpha']}`")
    size = path.stat().st_size / 2**20
    data = ckpt.config.data
    source = f"task `{data.task}`" if data.task and not data.corpus else "Tatoeba en–de" if "tatoeba" in str(
        data.corpus) else "corpus"
    return (f"| `{path.name}` | {source} | `configs/{ckpt.config.name}.yaml` | {architecture(ckpt.config)} | "
            f"{ckpt.model.num_parameters() / 1e6:.2f} M | {ckpt.step:,} | {seconds / 60:.1f} min | "
            f"{size:.2f} MiB ({ckpt.extra.get('weights', 'float32')}) | {score} | "
            f"{'–' if ev is None else ev['sentences']} | {command} |")


def table() -> str:
    header = ("| checkpoint | data | recipe | architecture | parameters | steps | training time (2 cores) | size | "
              "test BLEU / chrF | test pairs | reproduce the score |\n"
              "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|")
    paths = sorted((ROOT / "checkpoints").glob("*.pt"), key=lambda p: (not p.stem.startswith("tatoeba-en-de.")
                                                                       and p.stem != "tatoeba-en-de", p.name))
    return "\n".join([header, *(row(p) for p in paths)])


def sweep_table() -> str:
    """Every recipe-sweep variant (docs/sweeps/*.jsonl, written by bench/recipe_sweep.py on a GPU)."""
    import json

    lines = ["| sweep | variant | changes against the round's base | steps | best dev BLEU | test BLEU greedy | "
             "test BLEU beam 5 |", "|---|---|---|---:|---:|---:|---:|"]
    for path in sorted(SWEEPS.glob("round*.jsonl")):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for r in sorted(rows, key=lambda r: -r.get("test_beam5", 0)):
            changes = ", ".join(o for o in r["overrides"] if not o.startswith(("train.max_steps", "train.warmup")))
            best = max(b for _, b in r["dev_bleu"]) if r.get("dev_bleu") else float("nan")
            lines.append(f"| {path.stem} | {r['name']} | {changes or 'base'} | {r['steps']:,} | {best:.2f} | "
                         f"{r['test_greedy']:.2f} | {r['test_beam5']:.2f} |")
    return "\n".join(lines)


def int8_table() -> str:
    """The same model scored from its float32 training checkpoint and from the shipped int8 file."""
    import json

    rows = json.loads(INT8.read_text())
    lines = ["| model | decoding | float32 BLEU / chrF | int8 BLEU / chrF | BLEU change |", "|---|---|---:|---:|---:|"]
    for model in dict.fromkeys(r["model"] for r in rows):
        for beam in (5, 1):
            pick = {r["weights"]: r for r in rows if r["model"] == model and r["beam_size"] == beam}
            if {"float32", "int8"} <= set(pick):
                f, q = pick["float32"], pick["int8"]
                how = "beam 5, GNMT 0.6" if beam == 5 else "greedy"
                lines.append(f"| `{model}` | {how} | {f['bleu']:.2f} / {f['chrf']:.2f} | {q['bleu']:.2f} / "
                             f"{q['chrf']:.2f} | {q['bleu'] - f['bleu']:+.2f} |")
    return "\n".join(lines)


def replace_between(doc: str, begin: str, end: str, text: str) -> str:
    start, stop = doc.index(begin) + len(begin), doc.index(end)
    return doc[:start] + "\n" + text + "\n" + doc[stop:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    text, sweeps, int8 = table(), sweep_table(), int8_table()
    if args.write:
        doc = replace_between(DOC.read_text(encoding="utf-8"), BEGIN, END, text)
        doc = replace_between(doc, INT8_BEGIN, INT8_END, int8)
        DOC.write_text(replace_between(doc, SWEEP_BEGIN, SWEEP_END, sweeps), encoding="utf-8")
    print(text + "\n\n" + int8 + "\n\n" + sweeps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
