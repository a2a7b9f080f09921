"""The Translator facade and the translate/evaluate CLI with the decoding options."""

from __future__ import annotations

import io
import json

import pytest
import torch

from nmt_core.checkpoint import make_payload, save_checkpoint
from nmt_core.cli import main
from nmt_core.tokenizer import EOS_ID
from nmt_core.translator import Translator

SENTENCES = ["the red car is fast", "a dog", "", "the small green house is slow"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture()
def checkpoint(tmp_path, tiny_config, tiny_model, tiny_tokenizers):
    path = tmp_path / "model.pt"
    save_checkpoint(make_payload(tiny_config, tiny_model, tiny_tokenizers, step=1), path)
    return path


@pytest.fixture()
def translator(checkpoint):
    return Translator.from_path(checkpoint, "cpu")


def test_translate_greedy_and_beam(translator):
    greedy = translator.translate(SENTENCES, max_ratio=1.0)
    assert len(greedy) == 4 and greedy[2] == ""
    assert translator.translate(SENTENCES, beam_size=1, prefix=None, max_ratio=1.0) == greedy
    beam = translator.translate(SENTENCES, beam_size=3, length_penalty="gnmt", max_ratio=1.0)
    decoded = translator.decode(SENTENCES, beam_size=3, length_penalty="gnmt", max_ratio=1.0, batch_size=2)
    assert beam[2] == "" and [r.best.text for i, r in enumerate(decoded) if i != 2] == [beam[0], beam[1], beam[3]]


def test_decode_fills_texts_pieces_and_labels(translator):
    results = translator.decode(SENTENCES, beam_size=3, nbest=3, record=True, max_ratio=1.0)
    for sentence, result in zip(SENTENCES, results):
        src_ids = translator.prepare(sentence).ids
        assert result.trace.source == (*src_ids, EOS_ID) and result.src_pieces[-1] == "</s>"
        assert len(result.src_pieces) == result.trace.attention.shape[1] == len(result.trace.source)
        assert len(result.hypotheses) == 3
        for hyp in result.hypotheses:
            assert hyp.text == translator.tokenizers.tgt.decode(hyp.output_ids)
            assert len(hyp.pieces) == len(hyp.tokens) == hyp.attention.shape[0]
        frame = result.attention_frame()
        assert {"tgt_piece", "src_piece", "weight"} <= set(frame.columns)
        assert result.trace.to_frame()["piece"].iloc[0] == "<s>"
        assert len(result.nbest_frame()) == 3


def test_beam_score_diagnose_sample(translator):
    result = translator.beam_search("the red car is fast", beam_size=4, nbest=2, max_ratio=1.0)
    assert len(result.hypotheses) == 2 and result.trace.rejected is not None
    scores = translator.score("the red car is fast", "el coche rojo es rápido", length_penalty="norm")
    assert scores.tokens[-1] == EOS_ID and scores.pieces[-1] == "</s>"
    assert scores.score == pytest.approx(scores.logprob / len(scores.tokens))
    assert len(scores.to_frame()) == len(scores.tokens)
    verdict = translator.diagnose("the red car is fast", "el coche rojo es rápido", beam_size=3, max_ratio=1.0)
    assert verdict.verdict in {"agree", "search error", "model error"} and verdict.explanation
    a = translator.sample("the red car", n=3, seed=4, temperature=0.8, max_ratio=1.0)
    b = translator.sample("the red car", n=3, seed=4, temperature=0.8, max_ratio=1.0)
    assert [h.text for h in a] == [h.text for h in b] and len(a) == 3
    forced = translator.beam_search("the red car", beam_size=2, prefix="el coche", max_ratio=2.0)
    assert all(h.text.startswith("el coche") for h in forced.hypotheses)


def run_cli(argv, stdin_text, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin_text))
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_translate_nbest_and_trace(checkpoint, tmp_path, monkeypatch, capsys):
    trace = tmp_path / "trace.json"
    code, out, _ = run_cli(["translate", "--checkpoint", str(checkpoint), "--device", "cpu", "--beam", "3",
                            "--nbest", "2", "--length-penalty", "gnmt", "--alpha", "1.0", "--max-ratio", "1.0",
                            "--trace", str(trace)], "the red car\na dog\n", monkeypatch, capsys)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 4 and all(len(line.split("\t")) == 5 for line in lines)
    assert [line.split("\t")[:2] for line in lines] == [["0", "1"], ["0", "2"], ["1", "1"], ["1", "2"]]
    assert float(lines[0].split("\t")[2]) >= float(lines[1].split("\t")[2])
    doc = json.loads(trace.read_text(encoding="utf-8"))
    assert doc["format"] == "nmt-studio-beam-traces" and len(doc["inputs"]) == 2
    first = doc["inputs"][0]["trace"]
    assert first["settings"]["beam_size"] == 3 and first["settings"]["length_penalty"] == "gnmt"
    assert "attention" in first["nodes"][1] and "rejected" in first["nodes"][0]
    assert first["source"]["pieces"][-1] == "</s>"


def test_cli_translate_plain_and_errors(checkpoint, monkeypatch, capsys):
    code, out, _ = run_cli(["translate", "--checkpoint", str(checkpoint), "--device", "cpu", "--beam", "2",
                            "--prefix", "el"], "the red car\n\na dog\n", monkeypatch, capsys)
    assert code == 0
    lines = out.split("\n")[:-1]
    assert len(lines) == 3 and lines[1] == "" and lines[0].startswith("el")
    code, _, err = run_cli(["translate", "--checkpoint", str(checkpoint), "--device", "cpu", "--nbest", "3"],
                           "a dog\n", monkeypatch, capsys)
    assert code == 2 and err.startswith("error:") and "--nbest" in err


def test_cli_evaluate_with_decoding_options(checkpoint, tmp_path, monkeypatch, capsys):
    (tmp_path / "src.txt").write_text("the red car\na dog\n", encoding="utf-8")
    (tmp_path / "ref.txt").write_text("el coche rojo\nun perro\n", encoding="utf-8")
    code, out, _ = run_cli(["evaluate", "--checkpoint", str(checkpoint), "--device", "cpu", "--src",
                            str(tmp_path / "src.txt"), "--ref", str(tmp_path / "ref.txt"), "--beam", "3",
                            "--length-penalty", "norm", "--max-ratio", "1.0", "--trace", str(tmp_path / "t.json"),
                            "--hyp-out", str(tmp_path / "hyp.txt"), "--stopping", "heuristic"], "", monkeypatch,
                           capsys)
    assert code == 0
    report = json.loads(out)
    assert report["beam_size"] == 3 and report["sentences"] == 2 and "bleu" in report
    assert report["stopping"] == "heuristic"
    traces = json.loads((tmp_path / "t.json").read_text())["inputs"]
    assert len(traces) == 2 and traces[0]["trace"]["settings"]["stopping"] == "heuristic"
    assert len((tmp_path / "hyp.txt").read_text().splitlines()) == 2


def test_cli_threads_are_bounded_and_governed_between_batches(checkpoint, translator, monkeypatch, capsys):
    code, _, err = run_cli(["translate", "--checkpoint", str(checkpoint), "--device", "cpu", "--threads", "0"],
                           "a dog\n", monkeypatch, capsys)
    assert code == 2 and err.startswith("error:") and "--threads must be positive, got 0" in err
    code, out, _ = run_cli(["translate", "--checkpoint", str(checkpoint), "--device", "cpu", "--threads", "1"],
                           "a dog\n", monkeypatch, capsys)
    assert code == 0 and out.strip() and torch.get_num_threads() == 1
    calls = []
    sentences = ["the red car", "a dog", "the big house is slow", "a cat"]
    greedy = translator.translate(sentences, batch_size=2, after_batch=lambda: calls.append("greedy"))
    beam = translator.translate(sentences, batch_size=2, beam_size=2, after_batch=lambda: calls.append("beam"))
    assert calls == ["greedy"] * 2 + ["beam"] * 2  # once per batch of 2
    assert greedy == translator.translate(sentences, batch_size=2)  # the hook changes nothing else
    assert beam == translator.translate(sentences, batch_size=2, beam_size=2)

