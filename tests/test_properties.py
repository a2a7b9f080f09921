"""Property-based tests (hypothesis): tokenizer round trips, corpus readers, hostile text, hostile bytes, paths.

The search's own invariants (a wide beam is exact search; trace backpointers reproduce every hypothesis;
the early stop never changes the n-best) are properties in tests/test_search.py, and the TSV reader's round
trip is in tests/test_corpus.py; they are not repeated here.
"""

from __future__ import annotations

import csv
import io
import os
import random
import string

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nmt_core import corpus
from nmt_core.checkpoint import CheckpointError, load_checkpoint, make_payload, payload_bytes
from nmt_core.runs import run_path, safe_run_name
from nmt_core.splits import split, write_splits
from nmt_core.text import normalize
from nmt_core.tokenizer import Tokenizer
from nmt_core.translator import MAX_INPUT_PIECES, Translator

#: NMT_PROPERTY_EXAMPLES=2000 for a long run (the default keeps the suite fast).
SETTINGS = settings(max_examples=int(os.environ.get("NMT_PROPERTY_EXAMPLES", "60")), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# ----------------------------------------------------------------------------------------- tokenizers
#: The training alphabet: every character below occurs in the tokenizers' training text.
LETTERS = string.ascii_lowercase + "áéíóúñüçß"
ALPHABET = LETTERS + string.ascii_uppercase + string.digits + ".,;:!?'()-¿¡"
WORDS = ["".join(random.Random(i).choices(LETTERS, k=random.Random(-i).randint(1, 8))) for i in range(60)]


def _training_sentences() -> list[str]:
    rng = random.Random(0)
    sentences = [" ".join(rng.choices(WORDS, k=rng.randint(1, 9))) for _ in range(400)]
    # every character of the alphabet, alone and inside words, so char/bpe/unigram vocabularies hold them all
    sentences += [" ".join(ALPHABET[i:i + 5]) for i in range(0, len(ALPHABET), 5)] + [ALPHABET] * 3
    return sentences


@pytest.fixture(scope="module")
def tokenizers() -> dict[str, Tokenizer]:
    text = _training_sentences()
    return {kind: Tokenizer.train(text, model_type=kind, vocab_size=120 if kind in ("bpe", "unigram") else 2000)
            for kind in ("word", "char", "bpe", "unigram")}


WHITESPACE = st.sampled_from([" ", "  ", "\t", "\u00a0", "\u3000", "\n"])
in_alphabet = st.lists(st.tuples(st.text(st.sampled_from(ALPHABET), min_size=1, max_size=12), WHITESPACE),
                       max_size=12).map(lambda parts: "".join(w + s for w, s in parts))
in_vocabulary = st.lists(st.tuples(st.sampled_from(WORDS), WHITESPACE), max_size=15).map(
    lambda parts: "".join(w + s for w, s in parts))


@pytest.mark.parametrize("kind", ["char", "bpe", "unigram"])
@SETTINGS
@given(text=in_alphabet)
@example(text="")
@example(text="  ¿Qué?  ¡Sí!\t(12-3)  ")
def test_subword_tokenizers_round_trip(tokenizers, kind, text):
    """decode(encode(s)) == normalize(s) for any text over the training alphabet (no <unk> possible)."""
    tok = tokenizers[kind]
    ids = tok.encode(text)
    assert 1 not in ids  # no <unk>
    assert tok.decode(ids) == normalize(text)


@SETTINGS
@given(text=in_vocabulary)
def test_word_tokenizer_round_trip(tokenizers, text):
    """A word vocabulary round-trips any sequence of its own words, whatever whitespace separates them."""
    tok = tokenizers["word"]
    assert tok.decode(tok.encode(text)) == normalize(text)


@SETTINGS
@given(text=st.text())
def test_tokenizers_never_raise_and_unknowns_become_unk(tokenizers, text):
    for tok in tokenizers.values():
        ids = tok.encode(text)
        assert all(0 <= i < tok.vocab_size for i in ids)
        assert isinstance(tok.decode(ids), str)
        assert len(tok.pieces(text)) == len(ids)


# ----------------------------------------------------------------------------------------- corpus readers
#: A sentence as the readers keep it: any text without line breaks or tabs that is not blank.
line_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\t\ufeff"),
                    min_size=1, max_size=40).filter(lambda s: s.strip() != "")


@SETTINGS
@given(pairs=st.lists(st.tuples(line_text, line_text), min_size=3, max_size=25), seed=st.integers(0, 100))
def test_parallel_files_round_trip(tmp_path_factory, pairs, seed):
    """split + write_splits + read_parallel gives back exactly the pairs (as a multiset, in corpus order)."""
    src, tgt = [s for s, _ in pairs], [t for _, t in pairs]
    splits = split(corpus.ParallelCorpus(src, tgt), dev_size=1, test_size=1, seed=seed)
    out = tmp_path_factory.mktemp("par")
    write_splits(splits, out)
    back = []
    for name in ("train", "dev", "test"):
        part = corpus.read_parallel(out / f"{name}.src", out / f"{name}.tgt")
        back += list(zip(part.src, part.tgt, strict=True))
    assert sorted(back) == sorted(pairs)


#: CSV fields may hold commas, quotes and even line breaks (quoted); not a bare CR, which _read_lines folds.
csv_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\ufeff"), min_size=1,
                   max_size=30).filter(lambda s: s.strip() != "")


@SETTINGS
@given(rows=st.lists(st.tuples(csv_text, csv_text, csv_text), min_size=1, max_size=20),
       delimiter=st.sampled_from([",", ";", "\t", "|"]))
def test_csv_round_trip(tmp_path_factory, rows, delimiter):
    """csv.writer -> read_csv returns the two named columns exactly, whatever the fields contain."""
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter=delimiter, lineterminator="\n")
        writer.writerow(["id", "english", "spanish"])
        writer.writerows(rows)
    got = corpus.read_csv(path, "english", "spanish", delimiter=delimiter)
    assert got.src == [r[1] for r in rows] and got.tgt == [r[2] for r in rows]


@SETTINGS
@given(data=st.binary(max_size=2000))
def test_readers_raise_only_corpus_errors_on_arbitrary_bytes(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("junk") / "junk.txt"
    path.write_bytes(data)
    for read in (lambda: corpus.read_tsv(path), lambda: corpus.read_csv(path, "a", "b"),
                 lambda: corpus.read_parallel(path, path)):
        try:
            read()
        except corpus.CorpusError as err:
            assert "\n" not in str(err)


# ----------------------------------------------------------------------------------------- hostile text, core
@pytest.fixture()
def translator(tiny_config, tiny_model, tiny_tokenizers) -> Translator:
    from nmt_core.checkpoint import Checkpoint

    return Translator(Checkpoint(None, tiny_config, tiny_model, tiny_tokenizers), "cpu")


any_text = st.text(st.characters(codec=None, blacklist_categories=()), max_size=600)  # lone surrogates too


@SETTINGS
@given(text=any_text, beam=st.integers(1, 4))
@example(text="\udcff\ud800", beam=2)
def test_translation_of_any_string_never_raises_and_is_bounded(translator, text, beam):
    (out,) = translator.translate([text], beam_size=beam)
    assert isinstance(out, str)
    result = translator.beam_search(text, beam_size=beam)
    src_len = min(len(translator.tokenizers.src.encode(text)), MAX_INPUT_PIECES) + 1  # + </s>
    assert all(len(h.tokens) <= 2 * src_len + 5 for h in result.hypotheses)


# ----------------------------------------------------------------------------------------- hostile bytes
@pytest.fixture()
def checkpoint_bytes(tiny_config, tiny_model, tiny_tokenizers) -> bytes:
    return payload_bytes(make_payload(tiny_config, tiny_model, tiny_tokenizers, step=3))


@SETTINGS
@given(data=st.binary(max_size=3000))
@example(data=b"hello")  # torch's legacy unpickler raised KeyError on this
def test_load_checkpoint_on_arbitrary_bytes_raises_only_checkpoint_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("ck") / "x.pt"
    path.write_bytes(data)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


@SETTINGS
@given(cut=st.floats(0.0, 1.0), flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(1, 255)), max_size=4))
def test_load_checkpoint_on_damaged_checkpoints(tmp_path_factory, checkpoint_bytes, cut, flips):
    """A real checkpoint, truncated and/or with flipped bytes: it loads (a flip inside a weight) or raises
    CheckpointError, never anything else."""
    data = bytearray(checkpoint_bytes[: max(1, int(len(checkpoint_bytes) * cut))])
    for where, xor in flips:
        data[min(len(data) - 1, int(where * len(data)))] ^= xor
    path = tmp_path_factory.mktemp("ck") / "x.pt"
    path.write_bytes(bytes(data))
    try:
        ckpt = load_checkpoint(path)
    except CheckpointError:
        return
    assert isinstance(ckpt.model, torch.nn.Module)


# ----------------------------------------------------------------------------------------- paths
@SETTINGS
@given(name=st.text(max_size=100))
@example(name="..")
@example(name="../etc")
@example(name="/abs")
@example(name="a/../../b")
def test_run_path_stays_inside_the_runs_folder(tmp_path_factory, name):
    root = tmp_path_factory.mktemp("runs")
    try:
        path = run_path(root, name)
    except ValueError:
        return
    assert path.parent == root.resolve() and path.name == safe_run_name(name)


@SETTINGS
@given(filename=st.text(max_size=60))
@example(filename="../../../../tmp/x.tsv")
@example(filename="a.tsv/../../x")
def test_upload_file_names_never_leave_the_run_folder(tmp_path_factory, monkeypatch, filename):
    """studio.train_form.start_run stores an upload under a name it chooses ("corpus" + the upload's suffix)."""
    from studio import train_form

    root = tmp_path_factory.mktemp("runs")
    monkeypatch.setenv("NMT_STUDIO_RUNS", str(root))
    monkeypatch.setattr(train_form.jobs, "start_training", lambda *a, **k: None)  # nothing is launched

    class Upload(io.BytesIO):
        name, size = filename, 8

    raw = {"data": {"task": None, "corpus": {"format": "tsv"}}}
    train_form.start_run("run1", raw, {"path": Upload(b"a\tb\nc\td\n")})
    for path in root.rglob("*"):
        assert path.resolve().is_relative_to(root.resolve())
        if path.is_file():
            assert path.parent == root / "run1" / "data"
