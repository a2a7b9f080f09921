"""The models shipped in checkpoints/: each loads, translates, fits its size budget, carries its scores and the data
they were measured on, and docs/models.md says exactly what the files hold."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from nmt_core.checkpoint import load_checkpoint
from nmt_core.translator import Translator

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "checkpoints").glob("*.pt"))
REAL = ["tatoeba-en-de", "tatoeba-en-de-noattn", "tatoeba-en-de-gru", "tatoeba-en-de-rnn"]
MB = 2**20


def test_the_real_language_models_and_the_toy_are_shipped():
    assert {p.stem for p in SHIPPED} >= {*REAL, "toy-en-es"}


def test_sizes_fit_the_budget():
    assert all(p.stat().st_size <= 8 * MB for p in SHIPPED), {p.name: p.stat().st_size for p in SHIPPED}
    assert sum(p.stat().st_size for p in SHIPPED) <= 40 * MB


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_checkpoint_loads_and_translates(path):
    translator = Translator.from_path(path, "cpu")
    sentence = "the red car is fast" if path.stem.startswith("toy") else "My grandmother likes jazz."
    assert not translator.prepare(sentence).notices
    greedy, beam = translator.translate([sentence]), translator.translate([sentence], beam_size=5)
    assert greedy[0].strip() and beam[0].strip()
    assert path.stem == load_checkpoint(path).config.name  # the recipe in configs/ has the file's name
    assert (ROOT / "configs" / f"{path.stem}.yaml").exists()


@pytest.mark.parametrize("name", REAL)
def test_real_language_models_carry_scores_data_and_attribution(name):
    ckpt = load_checkpoint(ROOT / "checkpoints" / f"{name}.pt")
    assert "tatoeba.org" in ckpt.extra["attribution"] and "manythings.org/anki" in ckpt.extra["attribution"]
    evaluations = ckpt.extra["evaluations"]
    beam = [e for e in evaluations if e["beam_size"] == 5]
    assert beam and beam[-1]["sentences"] >= 2000 and beam[-1]["src"].endswith("test.src")
    assert len(ckpt.extra["examples"]) >= 5 and len(ckpt.extra["test_sample"]["src"]) == 1000
    data = ckpt.metrics["data"]
    assert data["held_out"] == "sentences" and data["test"] >= 2000


def test_the_main_model_reaches_the_quality_target():
    ckpt = load_checkpoint(ROOT / "checkpoints" / "tatoeba-en-de.pt")
    m = ckpt.config.model
    assert (m.cell, m.bidirectional, m.attention, m.input_feeding) == ("lstm", True, "additive", True)
    best = max(e["bleu"] for e in ckpt.extra["evaluations"] if e["sentences"] >= 2000)
    assert best >= 32


def test_docs_models_tables_are_generated_from_the_files():
    sys.path.insert(0, str(ROOT / "scripts"))
    import models_table as m

    doc = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    for begin, end, make in ((m.BEGIN, m.END, m.table), (m.INT8_BEGIN, m.INT8_END, m.int8_table),
                             (m.SWEEP_BEGIN, m.SWEEP_END, m.sweep_table)):
        assert doc[doc.index(begin) + len(begin):doc.index(end)].strip() == make().strip(), begin


def test_readme_quotes_the_main_models_recorded_score():
    ckpt = load_checkpoint(ROOT / "checkpoints" / "tatoeba-en-de.pt")
    beam = [e for e in ckpt.extra["evaluations"] if e["beam_size"] == 5][-1]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"test BLEU {beam['bleu']:.1f}" in readme
