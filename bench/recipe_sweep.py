"""Which training recipe gives the most test BLEU for a fixed amount of training? Run variants side by side.

Each variant of a base config trains in its own process (``python -m nmt_core train``) for the same number
of *target tokens* (the unit that costs CPU time), then its best checkpoint is scored on the test split with
greedy and beam-5 decoding. On a GPU many variants fit on one card at once, so a sweep that would take a
day on 2 CPU cores takes minutes; the recipes it picks are then trained and timed on the CPU
(``configs/tatoeba-en-de.yaml``, docs/models.md).

    python bench/recipe_sweep.py configs/tatoeba-en-de.yaml --tokens 6e6 --device cuda \\
        --variant base= --variant lr3e-3=train.lr=0.003 --variant drop0.3=model.dropout=0.3 --out sweep.json

A variant is ``name=override[,override...]`` (``name=`` for the base config itself). Prints one line per
variant: steps, training seconds, best dev BLEU, test BLEU (greedy, beam 5).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nmt_core.batching import bucketed_batches  # noqa: E402
from nmt_core.config import load_config  # noqa: E402
from nmt_core.data import prepare_data  # noqa: E402


def steps_for_tokens(config: str, overrides: list[str], tokens: float) -> tuple[int, float]:
    """Steps that make ``tokens`` real target tokens (pieces + </s>) under this variant's batching."""
    cfg = load_config(config, overrides)
    data = prepare_data(cfg)
    tgt = [len(t) for t in data.train_tgt]
    src = [len(s) for s in data.train_src]
    batches = bucketed_batches(src, tgt, cfg.train.batch_size, seed=cfg.train.seed, epoch=0,
                               max_tokens=cfg.train.batch_tokens)
    per_batch = sum(tgt[i] + 1 for b in batches for i in b) / len(batches)
    return max(1, round(tokens / per_batch)), per_batch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--variant", action="append", required=True, metavar="NAME=OVERRIDES")
    parser.add_argument("--tokens", type=float, default=0,
                        help="target tokens per variant (0: each variant's own train.max_steps)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--work", default="/tmp/nmt-studio-sweep")
    parser.add_argument("--out", help="write the results as JSON lines here, one per finished variant")
    parser.add_argument("--max-seconds", type=float, default=None, help="stop variants still running after this")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    runs = []
    for spec in args.variant:
        name, _, joined = spec.partition("=")
        overrides = [o for o in joined.split(",") if o]
        if args.tokens:
            steps, per_batch = steps_for_tokens(args.config, overrides, args.tokens)
            overrides.append(f"train.max_steps={steps}")
        run_dir = Path(args.work) / name
        run_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, __file__, args.config, "--child", "--device", args.device, "--work", str(run_dir),
               "--variant", f"{name}={','.join(overrides)}"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
        with open(Path(args.work) / f"{name}.log", "w") as log:  # the child keeps its own copy of the handle
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
        runs.append({"name": name, "run_dir": run_dir, "started": time.time(), "proc": proc})
        print(f"started {name}: {' '.join(overrides)}", flush=True)
    deadline = time.time() + args.max_seconds if args.max_seconds else None
    pending = list(runs)
    while pending:
        for run in list(pending):
            if run["proc"].poll() is not None:
                pending.remove(run)
                report(run, args.out)
            elif deadline and time.time() > deadline:
                (run["run_dir"] / "STOP").touch()  # the trainer saves and stops; the child then evaluates
        time.sleep(2)
    return 0


def report(run: dict, out: str | None) -> None:
    result_file = run["run_dir"] / "result.json"
    row = json.loads(result_file.read_text()) if result_file.exists() else {"name": run["name"], "failed": True}
    row["wall_s"] = round(time.time() - run["started"])
    print(json.dumps(row), flush=True)
    if out:
        with open(out, "a") as f:
            f.write(json.dumps(row) + "\n")


def child(args) -> int:
    """Train one variant, then score its best checkpoint on the test split (greedy and beam 5)."""
    from nmt_core.data import make_splits
    from nmt_core.evaluation import corpus_scores
    from nmt_core.train import Trainer
    from nmt_core.translator import Translator

    name, _, joined = args.variant[0].partition("=")
    overrides = [o for o in joined.split(",") if o]
    cfg = load_config(args.config, overrides + ["train.amp=false", "train.threads=1", "train.time_budget_s=null"])
    cfg.train.eval_every = max(1, cfg.train.max_steps // 6)
    run_dir = Path(args.work)
    started = time.time()
    result = Trainer(cfg, run_dir, device=args.device, progress_bar=False).train()
    seconds = time.time() - started
    history = [h for h in result_history(run_dir) if h["kind"] == "dev"]
    test = make_splits(cfg.data)[0].test
    translator = Translator.from_path(run_dir / "best.pt", args.device)
    greedy = corpus_scores(translator.translate(test.src), test.tgt)
    beam = corpus_scores(translator.translate(test.src, beam_size=5, length_penalty="gnmt", alpha=0.6), test.tgt)
    row = {"name": name, "overrides": overrides, "steps": result.step, "train_s": round(seconds),
           "dev_bleu": [(h["step"], h["bleu"]) for h in history], "test_greedy": greedy["bleu"],
           "test_beam5": beam["bleu"], "test_beam5_chrf": beam["chrf"], "state": result.state}
    (run_dir / "result.json").write_text(json.dumps(row))
    return 0


def result_history(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


if __name__ == "__main__":
    sys.exit(main())
