"""Time to quality: test BLEU after 2, 5, 10, 20 and 40 minutes of training, ours against JoeyNMT 2.3.0.

The question a teacher asks: "I have ~20k sentence pairs of my language pair and one lesson. What will the
model be worth after ten minutes?" Both toolkits train the same model size (bidirectional LSTM encoder
256 per direction, LSTM decoder 256, Bahdanau attention, input feeding, embeddings 256) on the same
files, with the same sentencepiece vocabularies, on the same cores, one after the other; both are scored
with sacrebleu on the same held-out test set (no test sentence, source or target, occurs in training),
decoding with beam 5 and a GNMT length penalty of alpha 1.0 (JoeyNMT's own ``joeynmt test`` for its side).

* **Ours** runs the studio's quick recipe (``nmt_core.recipes.QUICK``: the Train page's default for an
  uploaded corpus) once per time point with that time budget, as a user would: its learning rate decays
  over the budget, so each run ends decayed. Its best checkpoint (by dev BLEU) is scored.
* **JoeyNMT** runs once with the configuration of ``../shared/guides/peer-benchmark.md`` (Adam 1e-3, batches of
  64 sentences, dropout 0.2, constant learning rate: its plateau scheduler fails on torch 2.13), and a hook
  inside its process saves the weights when its training time passes each time point. Its validation runs
  every 1,000 steps (little of its time) and counts as training time, as ours does.

Times are seconds of each trainer's own training loop (data loading and tokenizer training excluded on both
sides). Usage (about 2 hours with the defaults; the CPU must be otherwise idle):

    python bench/time_to_quality.py --json tq.json --plot docs/figures/time-to-quality.png
    python bench/time_to_quality.py --corpus my.en my.fr --pairs 20000 --minutes 2,5,10

Prints a markdown table (docs/benchmarks.md holds the measured one).
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
sys.path.insert(0, str(ROOT / "bench"))

import yaml  # noqa: E402
from bench_data import DEFAULT_CORPUS, prepare  # noqa: E402

from nmt_core.recipes import QUICK, apply_recipe  # noqa: E402

PEER_PYTHON = ROOT / ".peer-venv" / "bin" / "python"
BEAM, ALPHA = 5, 1.0

PEER_CONFIG = """\
name: peer
joeynmt_version: "2.3.0"
model_dir: {work}/peer_model
use_cuda: False
fp16: False
random_seed: 1
data:
  train: {data}/train
  dev: {data}/dev
  test: {data}/test
  dataset_type: plain
  sample_dev_subset: -1
  src: {{lang: src, max_length: 200, level: bpe, lowercase: False, voc_file: {data}/vocab.src.txt,
        tokenizer_type: sentencepiece, tokenizer_cfg: {{model_file: {data}/spm.src.model}}}}
  trg: {{lang: tgt, max_length: 200, level: bpe, lowercase: False, voc_file: {data}/vocab.tgt.txt,
        tokenizer_type: sentencepiece, tokenizer_cfg: {{model_file: {data}/spm.tgt.model}}}}
testing: {{n_best: 1, beam_size: {beam}, beam_alpha: {alpha}, batch_size: 50, batch_type: sentence,
          max_output_length: 60, eval_metrics: ["bleu"]}}
training:
  optimizer: adam
  learning_rate: 0.001
  learning_rate_min: 1.0e-9
  clip_grad_norm: 1.0
  batch_size: 64
  batch_type: sentence
  normalization: tokens
  scheduling: exponential
  decrease_factor: 1.0
  epochs: 100000
  updates: 100000000
  validation_freq: 1000
  logging_freq: 100
  early_stopping_metric: bleu
  overwrite: True
  shuffle: True
  use_cuda: False
  keep_best_ckpts: 1
  print_valid_sents: []
model:
  initializer: xavier_uniform
  bias_initializer: zeros
  init_gain: 1.0
  embed_initializer: normal
  embed_init_gain: 0.1
  encoder:
    type: recurrent
    rnn_type: lstm
    embeddings: {{embedding_dim: 256, scale: False}}
    hidden_size: 256
    bidirectional: True
    dropout: 0.2
    num_layers: 1
  decoder:
    type: recurrent
    rnn_type: lstm
    embeddings: {{embedding_dim: 256, scale: False}}
    emb_scale: False
    hidden_size: 256
    dropout: 0.2
    hidden_dropout: 0.2
    num_layers: 1
    input_feeding: True
    init_hidden: bridge
    attention: bahdanau
"""

# Runs JoeyNMT's own command line in its interpreter. A hook on its training step keeps the running total of
# its training seconds (step start to step start) and, when that passes a time point, saves the weights in
# the form `joeynmt test --ckpt` loads; after the last point it exits. Nothing else in JoeyNMT changes.
PEER_WRAPPER = """\
import json, runpy, sys, time, torch
out, points = sys.argv.pop(1), [float(x) for x in sys.argv.pop(1).split(",")]
state = {"start": None, "trained": 0.0, "saved": [], "steps": 0}
import joeynmt.training as T
train_step = T.TrainManager._train_step
def timed_step(self, batch):
    now = time.perf_counter()
    if state["start"] is not None:  # the whole previous step: its batch, forward, backward, update, validation
        state["trained"] += now - state["start"]
    state["start"] = now
    state["steps"] += 1
    while points and state["trained"] >= points[0]:
        name = f"{self.model_dir}/at_{int(points[0])}s.ckpt"
        torch.save({"model_state": self.model.state_dict(), "steps": self.stats.steps}, name)
        state["saved"].append([points.pop(0), state["trained"], self.stats.steps, name])
        open(out, "w").write(json.dumps(state))
        if not points:
            sys.exit(0)
    return train_step(self, batch)
T.TrainManager._train_step = timed_step
runpy.run_module("joeynmt", run_name="__main__")
"""


def thread_env(threads: int) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}


def scores(hyps: list[str], refs: list[str]) -> dict[str, float]:
    from nmt_core.evaluation import corpus_scores

    return corpus_scores(hyps, refs) if len(hyps) == len(refs) else {"bleu": None, "chrf": None}


# --------------------------------------------------------------------------------------- ours
def run_ours(data: Path, work: Path, minutes: float, threads: int) -> dict:
    """One training with the quick recipe and a budget of ``minutes``, then its best checkpoint on the test set."""
    from nmt_core.corpus import read_parallel
    from nmt_core.translator import Translator

    spec = lambda part: {"format": "parallel", "src_path": str(data / f"{part}.src"),  # noqa: E731
                         "tgt_path": str(data / f"{part}.tgt")}
    raw = apply_recipe({"name": f"ours-{minutes:g}min",
                        "data": {"task": None, "corpus": spec("train"), "dev_corpus": spec("dev"),
                                 "test_corpus": spec("test"), "held_out": "sentences", "max_len": 50},
                        "train": {"time_budget_s": minutes * 60, "threads": threads, "seed": 1}}, "quick")
    run_dir = work / f"ours-{minutes:g}min"
    config = work / f"ours-{minutes:g}min.yaml"
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    log = work / f"ours-{minutes:g}min.log"
    with open(log, "w") as out:
        proc = subprocess.run([sys.executable, "-m", "nmt_core", "train", str(config), "--run-dir", str(run_dir)],
                              cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=thread_env(threads))
    if proc.returncode != 0:
        return {"minutes": minutes, "error": f"training failed; see {log}"}
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    trained = max(m.get("elapsed_s", 0) for m in metrics)
    test = read_parallel(data / "test.src", data / "test.tgt")
    translator = Translator.from_path(run_dir / "best.pt", "cpu")
    hyps = translator.translate(test.src, beam_size=BEAM, length_penalty="gnmt", alpha=ALPHA, batch_size=50)
    steps = max(m["step"] for m in metrics)
    return {"minutes": minutes, "trained_s": round(trained), "steps": steps, **scores(hyps, test.tgt)}


# --------------------------------------------------------------------------------------- JoeyNMT
def export_for_peer(data: Path) -> None:
    """JoeyNMT gets the same sentencepiece vocabularies ours trains on (the recipe's, on the train split)."""
    from nmt_core.corpus import read_parallel
    from nmt_core.tokenizer import train_tokenizers

    tok = QUICK["tokenizer"]
    train = read_parallel(data / "train.src", data / "train.tgt")
    pair = train_tokenizers(train.src, train.tgt, model_type=tok["type"], vocab_size=tok["vocab_size"], joint=False)
    for side, t in (("src", pair.src), ("tgt", pair.tgt)):
        (data / f"spm.{side}.model").write_bytes(t.to_bytes())
        (data / f"vocab.{side}.txt").write_text("".join(t.id_to_piece(i) + "\n" for i in range(4, t.vocab_size)),
                                                encoding="utf-8")


def run_peer(data: Path, work: Path, minutes: list[float], threads: int, trained: bool = False) -> list[dict]:
    """Train JoeyNMT (or, with ``trained``, reuse the checkpoints a previous run of this script saved in ``work``)
    and score every checkpoint it saved at a time point."""
    from nmt_core.corpus import read_parallel

    config = work / "peer.yaml"
    stats_file = work / "peer_points.json"
    if not trained:
        export_for_peer(data)
        config.write_text(PEER_CONFIG.format(work=work, data=data, beam=BEAM, alpha=ALPHA), encoding="utf-8")
        points = ",".join(str(m * 60) for m in sorted(minutes))
        with open(work / "peer_train.log", "w") as out:
            subprocess.run([str(PEER_PYTHON), "-c", PEER_WRAPPER, str(stats_file), points, "train", str(config),
                            "--skip-test"], cwd=work, stdout=out, stderr=subprocess.STDOUT, env=thread_env(threads))
    elif not stats_file.exists():
        raise SystemExit(f"--peer-trained: no {stats_file} from an earlier run")
    saved = json.loads(stats_file.read_text())["saved"] if stats_file.exists() else []
    test = read_parallel(data / "test.src", data / "test.tgt")
    rows = []
    for point, trained, steps, ckpt in saved:
        hyp = work / f"peer_hyp_{int(point)}"
        test_config = work / f"peer_test_{int(point)}.yaml"
        cfg = yaml.safe_load(config.read_text(encoding="utf-8"))
        cfg["testing"]["load_model"] = ckpt  # `joeynmt test` takes the checkpoint from its config
        test_config.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        with open(work / f"peer_test_{int(point)}.log", "w") as out:
            subprocess.run([str(PEER_PYTHON), "-m", "joeynmt", "test", str(test_config), "-o", str(hyp)],
                           cwd=work, stdout=out, stderr=subprocess.STDOUT, env=thread_env(threads))
        out_file = Path(f"{hyp}.test")
        hyps = out_file.read_text(encoding="utf-8").splitlines() if out_file.exists() else []
        rows.append({"minutes": point / 60, "trained_s": round(trained), "steps": steps, **scores(hyps, test.tgt)})
    return rows


# --------------------------------------------------------------------------------------- report
def table(ours: list[dict], peer: list[dict], minutes: list[float]) -> str:
    by = lambda rows: {r["minutes"]: r for r in rows}  # noqa: E731
    o, p = by(ours), by(peer)
    cell = lambda r: "–" if r is None or r.get("bleu") is None else f"{r['bleu']:.1f}"  # noqa: E731
    steps = lambda r: "–" if r is None or "steps" not in r else f"{r['steps']:,}"  # noqa: E731
    lines = ["| training minutes | ours: test BLEU | ours: chrF | ours: steps | JoeyNMT: test BLEU | JoeyNMT: chrF | "
             "JoeyNMT: steps |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for m in minutes:
        a, b = o.get(m), p.get(m)
        chrf = lambda r: "–" if r is None or r.get("chrf") is None else f"{r['chrf']:.1f}"  # noqa: E731
        lines.append(f"| {m:g} | {cell(a)} | {chrf(a)} | {steps(a)} | {cell(b)} | {chrf(b)} | {steps(b)} |")
    return "\n".join(lines)


def plot(ours: list[dict], peer: list[dict], path: Path) -> None:
    import altair as alt
    import pandas as pd
    import vl_convert as vlc

    rows = [{"toolkit": "NMT Studio (quick recipe)", **r} for r in ours if r.get("bleu") is not None]
    rows += [{"toolkit": "JoeyNMT 2.3.0", **r} for r in peer if r.get("bleu") is not None]
    frame = pd.DataFrame(rows)
    chart = alt.Chart(frame, title="Test BLEU after N minutes of training (2 CPU cores)").mark_line(point=True).encode(
        x=alt.X("minutes:Q", scale=alt.Scale(type="log"), title="training minutes (log scale)"),
        y=alt.Y("bleu:Q", title="test BLEU (sacrebleu)"), color=alt.Color("toolkit:N", title=None),
        tooltip=["toolkit", "minutes", "bleu", "chrf", "steps"]).properties(width=520, height=300)
    spec = chart.to_json()
    if path.suffix == ".svg":
        path.write_text(vlc.vegalite_to_svg(spec), encoding="utf-8")
    else:
        path.write_bytes(vlc.vegalite_to_png(spec, scale=2))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", nargs="+", default=[str(DEFAULT_CORPUS)],
                        help="a TSV (or .zip of one), or two line-aligned files SRC TGT")
    parser.add_argument("--pairs", type=int, default=20_000)
    parser.add_argument("--minutes", default="2,5,10,20,40", help="time points (comma-separated)")
    parser.add_argument("--ours-minutes", help="our runs (default: every time point)")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--peer-trained", action="store_true",
                        help="score the JoeyNMT checkpoints an earlier (interrupted) run saved in --work")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", default="/tmp/nmt-studio-tq")
    parser.add_argument("--json", help="write every measurement here")
    parser.add_argument("--plot", help="write the BLEU-over-time chart here (.png or .svg)")
    parser.add_argument("--report", metavar="JSON", help="print the table (and --plot) from a saved --json")
    args = parser.parse_args()
    if args.report:
        saved = json.loads(Path(args.report).read_text())
        print(table(saved["ours"], saved["peer"], [float(m) for m in args.minutes.split(",")]))
        if args.plot:
            plot(saved["ours"], saved["peer"], Path(args.plot))
        return 0
    minutes = [float(m) for m in args.minutes.split(",")]
    ours_minutes = [float(m) for m in (args.ours_minutes or args.minutes).split(",")]
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    about = prepare(args.corpus, data, pairs=args.pairs, dev=500, test=2000)
    print(json.dumps(about), flush=True)
    started, load = time.strftime("%Y-%m-%d %H:%M"), os.getloadavg()[0]
    results: dict = {"about": about, "started": started, "threads": args.threads, "ours": [], "peer": []}
    save = lambda: args.json and Path(args.json).write_text(json.dumps(results, indent=1))  # noqa: E731
    if not args.no_peer:
        results["peer"] = run_peer(data, work, minutes, args.threads, trained=args.peer_trained)
        print(json.dumps(results["peer"]), flush=True)
        save()
    for m in ours_minutes:
        results["ours"].append(run_ours(data, work, m, args.threads))
        print(json.dumps(results["ours"][-1]), flush=True)
        save()
    results["load_average"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    save()
    print(table(results["ours"], results["peer"], minutes))
    if args.plot:
        plot(results["ours"], results["peer"], Path(args.plot))
    return 0


if __name__ == "__main__":
    sys.exit(main())
