"""The Threads figures in docs/benchmarks.md are the benchmarks' own numbers (``bench/threads.py --json`` and
``train_throughput.py --peer --json`` measure; ``bench/threads.py --report docs/threads`` prints the tables the
docs hold), and the sentences around them say what those numbers say."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "docs" / "threads"


def steps(label: str, busy_loops: int) -> dict:
    doc = json.loads((FOLDER / "threads.json").read_text(encoding="utf-8"))
    return next(r for r in doc["training"] if r["label"] == label and r["busy_loops"] == busy_loops)


def test_the_docs_tables_are_the_benchmarks_tables():
    sys.path.insert(0, str(ROOT / "bench"))
    from threads import report

    docs = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    for table in report(FOLDER).split("\n\n"):
        assert table in docs


def test_the_governor_chose_what_the_measurements_favour():
    idle, busy = 0, 1
    # on an idle machine two spinning threads beat one and PASSIVE threads; the governor used both
    assert steps("2 threads", idle)["steps_per_s"] > 1.2 * steps("1 thread", idle)["steps_per_s"]
    assert steps("2 threads", idle)["steps_per_s"] > 1.2 * steps("2 threads, PASSIVE", idle)["steps_per_s"]
    assert set(steps("governed (threads unset)", idle)["threads_used"]) == {"2"}
    # beside a busy loop two spinning threads lose to one; the governor saw it and used one
    assert steps("2 threads", busy)["steps_per_s"] < steps("1 thread", busy)["steps_per_s"]
    governed = steps("governed (threads unset)", busy)
    assert set(governed["threads_used"]) == {"1"} and governed["other_cores_seen"] > 0.5
    # the hand-written teacher-forcing loop is faster than the readable one, with 1 and with 2 threads
    for threads in ("1 thread", "2 threads"):
        assert steps(threads, idle)["steps_per_s"] > steps(f"{threads}, readable loop", idle)["steps_per_s"]


def test_the_retrained_toy_model_figures_are_the_saved_ones():
    doc = json.loads((FOLDER / "toy-retrain.json").read_text(encoding="utf-8"))
    minutes, seconds = divmod(doc["wall_seconds_train_command"], 60)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    models = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    assert f"{minutes} min {seconds} s, test BLEU {doc['test_bleu']:.2f}, chrF {doc['test_chrf']:.2f}" in readme
    assert f"test BLEU {doc['test_bleu']:.2f} and chrF {doc['test_chrf']:.2f}" in models
    assert doc["test_bleu"] > 99 and doc["dev_bleu_by_step"]["1000"] > 90  # "dev BLEU passes 90 after 1,000 steps"


def test_the_cli_evaluate_figures_are_the_saved_ones():
    doc = json.loads((FOLDER / "cli-evaluate.json").read_text(encoding="utf-8"))
    idle, busy = doc["idle"], doc["one busy loop"]
    text = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert (f"idle, {idle['governed']:.2f} s governed, {idle['threads 2']:.2f} s with 2 threads and\n"
            f"{idle['threads 1']:.2f} s with 1; beside a busy loop, {busy['governed']:.2f} s governed, "
            f"{busy['threads 2']:.2f} s with 2 threads and {busy['threads 1']:.2f} s with 1") in text
    # governed is within 10% of the better fixed choice in both conditions, and beats the worse one
    for case in (idle, busy):
        best, worst = min(case["threads 1"], case["threads 2"]), max(case["threads 1"], case["threads 2"])
        assert case["governed"] <= 1.1 * best and case["governed"] < worst


def test_the_two_core_experiments_are_the_saved_ones():
    sys.path.insert(0, str(ROOT / "bench"))
    from two_cores import lockstep_difference, report

    doc = json.loads((FOLDER / "two-cores.json").read_text(encoding="utf-8"))
    text = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert report(doc) in text
    enc, step = doc["encoder_forward_backward_ms"], doc["gradient_step_ms"]
    today, packed = step["whole batch, 2 threads"], enc["nn.LSTM, packed, 2 threads"]
    saved = (packed - enc["lockstep, 2 threads"]) / today
    assert f"that layer is {packed / today:.0%} of\n  the step: {saved:.1%} of a step" in text
    # "against the 19% the 2.5x target needs": 2.5x JoeyNMT over the measured 2-thread ratio
    peer = json.loads((FOLDER / "small-2threads.json").read_text(encoding="utf-8"))
    ratio = peer["ours"]["src_tgt_tokens_per_s"] / peer["peer"]["src_tgt_tokens_per_s"]
    assert f"against the {2.5 / ratio - 1:.0%} the 2.5× target needs" in text and saved < 2.5 / ratio - 1
    # the lockstep layer is the function it claims to be, here as when it was timed
    assert doc["lockstep_max_difference_float64"] < 1e-12 and lockstep_difference() < 1e-12


def test_the_dropout_masks_try_is_the_saved_one():
    sys.path.insert(0, str(ROOT / "bench"))
    from dropout import random_bits_dropout, report

    doc = json.loads((FOLDER / "dropout.json").read_text(encoding="utf-8"))
    raw = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    text = " ".join(raw.split())
    assert report(doc) in raw
    one, two = doc["1 thread(s)"]["profile_forward_backward"], doc["2 thread(s)"]["profile_forward_backward"]
    assert (f"`bernoulli_` took {one['bernoulli_ms']} ms with one thread and {two['bernoulli_ms']} ms with two, "
            f"{100 * two['bernoulli_share']:.1f}% of the 2-thread time") in text
    assert two["bernoulli_ms"] < 1.3 * one["bernoulli_ms"]  # "the second thread waits": no gain from it
    rates = doc["random_bits_drop_rate_even_odd"]
    assert f"(drop rates {rates[0]} and {rates[1]} in the two halves at p = 0.2)" in text
    assert all(abs(r - 0.2) < 0.002 for r in rates)
    gains = {t: [run["training_step_ms"][t]["F.dropout (bernoulli_)"] / run["training_step_ms"][t]["random bits"]
                 for run in doc["earlier_runs_same_code"]] for t in ("1 thread(s)", "2 thread(s)")}
    assert (f"gave whole steps of {gains['1 thread(s)'][0]:.2f}× and {gains['1 thread(s)'][1]:.2f}× (one thread) "
            f"and {gains['2 thread(s)'][0]:.2f}× twice (two threads)") in text
    assert f"{gains['2 thread(s)'][0]:.2f}" == f"{gains['2 thread(s)'][1]:.2f}"
    speed = [doc[t]["dropout_per_step_ms"]["F.dropout (bernoulli_)"] / doc[t]["dropout_per_step_ms"]["random bits"]
             for t in ("1 thread(s)", "2 thread(s)")]
    saved = doc["2 thread(s)"]["dropout_per_step_ms"]["F.dropout (bernoulli_)"] - \
        doc["2 thread(s)"]["dropout_per_step_ms"]["random bits"]
    assert f"The masks alone are {min(speed):.1f}–{max(speed):.1f}× faster, which saves {saved:.1f} ms" in text
    now = [doc[t]["training_step_ms"]["F.dropout (bernoulli_)"] / doc[t]["training_step_ms"]["random bits"]
           for t in ("1 thread(s)", "2 thread(s)")]
    assert f"Whole steps gained {now[0]:.2f}× (one thread) and {now[1]:.2f}× (two threads) in this run" in text
    every = now + gains["1 thread(s)"] + gains["2 thread(s)"]
    assert f"whole steps {min(every):.2f}–{max(every):.2f}×, within the noise" in text  # the hot-path table's row
    rounds = doc["2 thread(s)"]["training_step_ms_rounds"]["F.dropout (bernoulli_)"]
    assert f"ranged from {min(rounds)} to {max(rounds)} ms" in text
    peer = json.loads((FOLDER / "small-2threads.json").read_text(encoding="utf-8"))
    needed = 2.5 * peer["peer"]["src_tgt_tokens_per_s"] / peer["ours"]["src_tgt_tokens_per_s"] - 1
    assert f"far from the {needed:.0%} the 2.5× target needs" in text
    measured = [doc[t]["training_step_ms"] for t in ("1 thread(s)", "2 thread(s)")]
    assert all(m["F.dropout (bernoulli_)"] / m["random bits"] - 1 < needed for m in measured)
    # the masks are the ones it claims: both halves of each draw dropped at rate p
    torch.manual_seed(0)
    dropped = random_bits_dropout(torch.ones(400_000), 0.3) == 0
    assert all(abs(dropped[k::2].double().mean().item() - 0.3) < 0.006 for k in (0, 1))


def test_the_step_profile_and_its_bound_are_the_saved_ones():
    sys.path.insert(0, str(ROOT / "bench"))
    from step_profile import report, summary

    raw = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    text = " ".join(raw.split())
    doc = json.loads((FOLDER / "step-profile.json").read_text(encoding="utf-8"))
    again = summary(json.loads((FOLDER / "step-profile-2.json").read_text(encoding="utf-8")))
    assert report(doc) in raw
    s = summary(doc)
    assert f"a second run, which gave a bound of {again['bound']:.2f}×" in text
    assert (f"The products gain {s['products_1'] / s['products_2']:.2f}× from the second thread and everything else "
            f"{s['rest_1'] / s['rest_2']:.2f}×") in text
    assert (f"would take {s['best_step_2']:.1f} ms instead of {s['step_2']:.1f} ms, {s['bound']:.2f}× faster "
            f"({again['bound']:.2f}× in the second run)") in text
    peer = json.loads((FOLDER / "small-2threads.json").read_text(encoding="utf-8"))
    ratio = peer["ours"]["src_tgt_tokens_per_s"] / peer["peer"]["src_tgt_tokens_per_s"]
    fraction = peer["ours"]["fraction_of_peak"]
    assert (f"{ratio:.2f} × {s['bound']:.2f} = {ratio * s['bound']:.2f}× JoeyNMT ({ratio * again['bound']:.2f}× with "
            f"the second run's bound)") in text
    assert (f"{100 * fraction:.1f}% × {s['bound']:.2f} = {100 * fraction * s['bound']:.0f}% of the matmul peak "
            f"({100 * fraction * again['bound']:.0f}% with the second run's as well)") in text
    gains = sorted(r["products_1"] / r["products_2"] for r in (s, again))
    assert f"more than the {gains[0]:.2f}–{gains[1]:.2f}× they gain from a second thread" in text
    # what the paragraph concludes from them, for both runs: 60% out of reach; 2.5x at the edge (2.51x and 2.49x),
    # so the docs say "at the edge", not "needs perfect scaling"
    assert all(fraction * bound < 0.60 for bound in (s["bound"], again["bound"]))
    assert all(abs(ratio * bound - 2.5) < 0.05 for bound in (s["bound"], again["bound"]))
    assert "2.5× is at the edge of what perfect scaling of every other operation would give" in text
    assert s["step_2"] > s["best_step_2"] and again["step_2"] > again["best_step_2"]
