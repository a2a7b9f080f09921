"""Real-language groundwork: held-out-by-sentence splits, given dev/test files, token batches, tied embeddings,
compact (int8/float16) checkpoints, the time-aware learning-rate schedule, recipes and configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt_core import corpus
from nmt_core.batching import bucketed_batches
from nmt_core.checkpoint import (
    CheckpointError,
    compact_payload,
    load_checkpoint,
    make_payload,
    read_payload,
    save_checkpoint,
)
from nmt_core.cli import main
from nmt_core.config import ConfigError, DataConfig, ExperimentConfig, load_config
from nmt_core.data import make_splits
from nmt_core.model import Seq2Seq
from nmt_core.optim import make_scheduler
from nmt_core.recipes import QUICK, apply_recipe
from nmt_core.splits import leaked_sentences, split

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------ splits
def _repetitive_corpus(n: int, seed: int) -> corpus.ParallelCorpus:
    """Pairs that share sentences the way Tatoeba's do: one English sentence with several German ones,
    and German sentences reused for several English ones, some differing only in case."""
    import random

    rng = random.Random(seed)
    src = [f"S{rng.randint(0, n // 3)}" + ("" if rng.random() < 0.8 else " x") for _ in range(n)]
    tgt = [f"T{rng.randint(0, n // 2)}" for _ in range(n)]
    src = [s.lower() if rng.random() < 0.2 else s for s in src]
    return corpus.ParallelCorpus(src, tgt)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(10, 300), seed=st.integers(0, 10_000), dev=st.integers(0, 30), test=st.integers(0, 30))
def test_split_by_sentence_never_leaks_a_sentence(n, seed, dev, test):
    pairs = _repetitive_corpus(n, seed)
    splits = split(pairs, dev_size=dev, test_size=test, seed=seed, held_out="sentences")
    assert sum(splits.sizes().values()) == n  # nothing lost, nothing repeated
    assert leaked_sentences(splits.train, splits.test) == 0
    assert leaked_sentences(splits.train, splits.dev) == 0
    assert leaked_sentences(splits.dev, splits.test) == 0
    assert len(splits.dev) <= dev and len(splits.test) <= test
    again = split(pairs, dev_size=dev, test_size=test, seed=seed, held_out="sentences")
    assert again.test.src == splits.test.src and again.dev.tgt == splits.dev.tgt


def test_split_by_sentence_fills_the_requested_sizes_when_groups_allow():
    pairs = corpus.ParallelCorpus([f"s{i // 2}" for i in range(400)], [f"t{i}" for i in range(400)])  # groups of 2
    splits = split(pairs, dev_size=20, test_size=40, seed=3, held_out="sentences")
    assert (len(splits.dev), len(splits.test)) == (20, 40)
    assert leaked_sentences(splits.train, splits.test) == 0


def test_split_by_pairs_is_unchanged():
    """The shipped toy model's test split must stay the one it was scored on: same pairs as the original
    algorithm (permutation; dev first, then test; each split in corpus order)."""
    import numpy as np

    pairs = corpus.ParallelCorpus([f"s{i}" for i in range(50)], [f"t{i}" for i in range(50)])
    splits = split(pairs, dev_size=5, test_size=7, seed=11)
    order = np.random.default_rng(11).permutation(50)
    assert splits.dev.src == [f"s{i}" for i in sorted(order[:5])]
    assert splits.test.src == [f"s{i}" for i in sorted(order[5:12])]
    assert splits.train.src == [f"s{i}" for i in sorted(order[12:])]


def _write(path: Path, lines: list[str]) -> str:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def test_given_dev_and_test_files_are_used_and_kept_out_of_training(tmp_path):
    src = [f"sentence {i}" for i in range(60)]
    tgt = [f"satz {i}" for i in range(60)]
    spec = {"format": "parallel", "src_path": _write(tmp_path / "a.en", src),
            "tgt_path": _write(tmp_path / "a.de", tgt)}
    test = {"format": "parallel", "src_path": _write(tmp_path / "t.en", ["Sentence 3", "new one  here"]),
            "tgt_path": _write(tmp_path / "t.de", ["etwas", "satz 5"])}
    d = DataConfig(task=None, corpus=spec, dev_size=6, test_corpus=test, held_out="sentences")
    splits, report = make_splits(d)
    assert splits.test.src == ["Sentence 3", "new one here"]  # as given (normalised), never length-filtered
    assert "sentence 3" not in splits.train.src and "satz 5" not in splits.train.tgt  # overlap removed
    assert report["removed_for_overlap"] == 2 and len(splits.dev) == 6
    assert report["sources"]["test"].endswith("t.en + " + str(tmp_path / "t.de"))
    assert report["sources"]["dev"].startswith("carved from the corpus")


def test_split_command_writes_what_training_uses(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"data": {"task": "toy-en-es", "size": 300, "dev_size": 10, "test_size": 20,
                                            "held_out": "sentences"}}))
    assert main(["split", str(cfg), "--out", str(tmp_path / "out")]) == 0
    written = corpus.read_parallel(tmp_path / "out/test.src", tmp_path / "out/test.tgt")
    splits, _ = make_splits(load_config(cfg).data)
    assert written.src == splits.test.src and json.loads(capsys.readouterr().out)["test"] == 20


# ------------------------------------------------------------------------------------------ batching
@settings(max_examples=30, deadline=None)
@given(lengths=st.lists(st.integers(0, 40), min_size=1, max_size=300), max_tokens=st.integers(1, 400))
def test_token_batches_respect_the_budget_and_cover_every_sentence(lengths, max_tokens):
    batches = bucketed_batches(lengths, lengths, 16, seed=1, epoch=0, max_tokens=max_tokens)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        padded = len(b) * (max(lengths[i] for i in b) + 1)
        assert padded <= max_tokens or len(b) == 1


# ------------------------------------------------------------------------------------------ model and checkpoints
def _config(**model) -> ExperimentConfig:
    return ExperimentConfig.from_dict({"data": {"task": "toy-en-es"},
                                       "model": {"embedding_size": 16, "hidden_size": 16, **model}})


def test_tied_embeddings_share_one_matrix_and_need_equal_sizes():
    cfg = _config(tie_embeddings=True)
    cfg.model.src_vocab_size, cfg.model.tgt_vocab_size = 30, 40
    model = Seq2Seq(cfg.model)
    assert model.out.weight is model.tgt_embed.weight
    with pytest.raises(ConfigError, match="tie_embeddings"):
        _config(tie_embeddings=True, embedding_size=8)


@pytest.mark.parametrize("weights,tolerance,ratio", [("int8", 0.02, 0.4), ("float16", 2e-3, 0.6)])
@pytest.mark.parametrize("tied", [False, True])
def test_compact_checkpoints_are_small_and_close(tmp_path, tiny_tokenizers, weights, tolerance, ratio, tied):
    cfg = _config(tie_embeddings=tied, embedding_size=64, hidden_size=64)
    cfg.model.src_vocab_size = tiny_tokenizers.src.vocab_size
    cfg.model.tgt_vocab_size = tiny_tokenizers.tgt.vocab_size
    torch.manual_seed(0)
    model = Seq2Seq(cfg.model).eval()
    full = tmp_path / "full.pt"
    save_checkpoint(make_payload(cfg, model, tiny_tokenizers, step=3, training_state={"x": torch.zeros(1000)}), full)
    small = tmp_path / "small.pt"
    assert main(["export", str(full), str(small), "--weights", weights]) == 0
    assert small.stat().st_size < ratio * full.stat().st_size
    loaded = load_checkpoint(small)
    assert read_payload(small)["training_state"] is None and loaded.extra["weights"] == weights
    if tied:
        assert loaded.model.out.weight is loaded.model.tgt_embed.weight
    for name, value in model.state_dict().items():
        got = loaded.model.state_dict()[name]
        assert got.dtype == torch.float32
        bound = tolerance * value.abs().max().clamp(min=1e-6)  # int8: half a step of max|row| / 127
        assert (got - value).abs().max() <= bound, name
    src = torch.tensor([[5, 6, 7, 3]])
    with torch.no_grad():
        a = model(src, torch.tensor([4]), torch.tensor([[2, 5, 6]]))
        b = loaded.model(src, torch.tensor([4]), torch.tensor([[2, 5, 6]]))
    assert torch.allclose(a.softmax(-1), b.softmax(-1), atol=0.05)


def test_damaged_int8_scales_are_refused(tmp_path, tiny_config, tiny_model, tiny_tokenizers):
    payload = compact_payload(make_payload(tiny_config, tiny_model, tiny_tokenizers, step=1), "int8")
    payload["weight_scales"].pop(next(iter(payload["weight_scales"])))
    save_checkpoint(payload, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="row scales"):
        load_checkpoint(tmp_path / "bad.pt")


# ------------------------------------------------------------------------------------------ schedule
def test_cosine_decays_over_the_time_budget_and_plateau_halvings_persist():
    cfg = _config()
    cfg.train.lr, cfg.train.lr_schedule, cfg.train.max_steps, cfg.train.warmup_steps = 1.0, "cosine", 1000, 0
    clock = {"fraction": 0.0}
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=1.0)
    scale = {"value": 1.0}
    sched = make_scheduler(opt, cfg, lambda step: max(step / 1000, clock["fraction"]), lambda: scale["value"])
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(1.0, abs=1e-3)
    clock["fraction"] = 1.0  # the time budget is used up after 1 step of 1000
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)  # the floor of the cosine
    clock["fraction"], scale["value"] = 0.0, 0.5  # a plateau halving survives the next scheduler step
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5, abs=1e-3)


# ------------------------------------------------------------------------------------------ recipes and configs
def test_every_shipped_config_validates():
    configs = sorted((ROOT / "configs").glob("*.yaml"))
    assert len(configs) >= 6
    for path in configs:
        cfg = load_config(path)
        assert cfg.name == path.stem, path


def test_quick_config_is_the_quick_recipe():
    raw = yaml.safe_load((ROOT / "configs/quick-20k.yaml").read_text())
    for section, values in QUICK.items():
        for key, value in values.items():
            if key != "max_steps":
                assert raw[section].get(key, getattr(ExperimentConfig().__getattribute__(section), key)) == value, \
                    (section, key)
    merged = apply_recipe({"train": {"lr": 0.5}}, "quick")
    assert merged["train"]["lr"] == 0.5 and merged["train"]["batch_tokens"] == QUICK["train"]["batch_tokens"]


# ------------------------------------------------------------------------------------------ notices (CLI, API)
TOY = ROOT / "checkpoints" / "toy-en-es.pt"


def _run_translate(monkeypatch, capsys, data: bytes, *args: str) -> tuple[list[str], list[str]]:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    assert main(["translate", "--checkpoint", str(TOY), "--device", "cpu", *args]) == 0
    out, err = capsys.readouterr()
    return out.split("\n")[:-1], err.split("\n")[:-1]


@pytest.mark.skipif(not TOY.exists(), reason="needs the shipped toy model")
@pytest.mark.parametrize("beam", ["1", "3"])
def test_cli_names_every_change_on_stderr_and_keeps_one_output_line_per_input(monkeypatch, capsys, beam):
    data = (b"my grandmother likes jazz\nthe red car is fast\nthe red\x00 car\nbad \xff byte\n"
            + b"the car " * 120 + b"\n")
    out, err = _run_translate(monkeypatch, capsys, data, "--beam", beam)
    assert len(out) == 5 and out[1] == "el coche rojo es rápido"
    assert err[0].startswith("notice: line 1: ") and '"grandmother", "likes", "jazz"' in err[0]
    assert "3 words read as 1 <unk>" in err[0]
    assert err[1].startswith("notice: line 3: ") and "U+0000 NUL" in err[1]
    assert err[2].startswith("notice: line 4: ") and "replaced by \ufffd" in err[2]
    assert err[3].startswith("notice: line 5: ") and "only the first 200 are translated" in err[3]
    assert "longer than any sentence the model was trained on" in err[3]
    assert len(err) == 4  # nothing about the clean line 2


@pytest.mark.skipif(not TOY.exists(), reason="needs the shipped toy model")
def test_removed_characters_do_not_change_the_translation():
    from nmt_core.translator import Translator

    tr = Translator.from_path(TOY, "cpu")
    clean = tr.translate(["the red car is fast"])
    assert tr.translate(["the\x00 red\u200b car is\ufeff fast"]) == clean
    checked = tr.prepare("the red\x00 car")
    assert [n.kind for n in checked.notices] == ["removed"] and checked.text == "the red car"


def test_evaluate_records_the_score_and_its_data_in_the_model_card(tmp_path, tiny_config, tiny_model, tiny_tokenizers,
                                                                   capsys):
    path = tmp_path / "m.pt"
    save_checkpoint(make_payload(tiny_config, tiny_model, tiny_tokenizers, step=1), path)
    src = _write(tmp_path / "t.src", ["the red car", "a dog"])
    ref = _write(tmp_path / "t.ref", ["el coche", "un perro"])
    for _ in range(2):  # the same data and settings replace the earlier record
        assert main(["evaluate", "--checkpoint", str(path), "--src", src, "--ref", ref, "--record"]) == 0
    assert main(["evaluate", "--checkpoint", str(path), "--src", src, "--ref", ref, "--record", "--beam", "2"]) == 0
    cards = load_checkpoint(path).extra["evaluations"]
    assert [c["beam_size"] for c in cards] == [1, 2]
    printed = json.loads(capsys.readouterr().out.strip().split("\n")[-1])
    assert cards[-1]["bleu"] == printed["bleu"] and cards[-1]["src"] == src and cards[-1]["sentences"] == 2
    assert len(cards[-1]["data_sha256"]) == 16


def test_train_takes_dev_and_test_files(tmp_path, monkeypatch):
    import nmt_core.train as train_module

    seen = {}

    class FakeTrainer:
        def __init__(self, cfg, run_dir, **kwargs):
            seen["data"] = cfg.data

        def train(self):
            raise train_module.TrainingError("stop here")

    monkeypatch.setattr(train_module, "Trainer", FakeTrainer)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"name": "x", "data": {"task": "toy-en-es"}}))
    main(["train", str(cfg), "--run-dir", str(tmp_path / "run"), "--dev", "d.en", "d.de", "--test", "t.en", "t.de"])
    assert seen["data"].dev_corpus == {"format": "parallel", "src_path": "d.en", "tgt_path": "d.de"}
    assert seen["data"].test_corpus == {"format": "parallel", "src_path": "t.en", "tgt_path": "t.de"}


@pytest.mark.skipif(not TOY.exists(), reason="needs the shipped toy model")
def test_inspect_reports_notices_in_its_json_and_on_stderr(tmp_path, capsys):
    out = tmp_path / "i.json"
    assert main(["inspect", "--checkpoint", str(TOY), "--src", "my grandmother likes the car", "--out", str(out)]) == 0
    bundle = json.loads(out.read_text())
    assert [n["kind"] for n in bundle["notices"]] == ["unknown"] and bundle["notices"][0]["positions"] == [1]
    assert "grandmother" in capsys.readouterr().err
