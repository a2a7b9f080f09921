"""Corpus readers, cleaning, splitting: every bad input gets a message naming its file and line."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt_core.corpus import (
    CorpusError,
    ParallelCorpus,
    clean,
    parse_alignment,
    read_corpus,
    read_csv,
    read_parallel,
    read_tsv,
)
from nmt_core.splits import split, write_splits
from nmt_core.text import has_control_chars, normalize


def write(path: Path, data: str | bytes) -> Path:
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------------------------- text


def test_normalize_composes_decomposed_characters():
    decomposed = "cafe\u0301"  # "e" + combining acute accent
    assert len(decomposed) == 5
    out = normalize(decomposed)
    assert out == "café" and len(out) == 4
    assert out == unicodedata.normalize("NFC", out)


def test_normalize_collapses_every_kind_of_whitespace():
    assert normalize("  a\t\tb\u00a0c\r\nd \u2009 e \u3000") == "a b c d e"
    assert normalize("\t \n") == ""


def test_has_control_chars():
    assert has_control_chars("a\x00b")
    assert has_control_chars("zero\u200bwidth")
    assert not has_control_chars("tab\tis fine")
    assert not has_control_chars("größer")


@given(st.text())
def test_normalize_is_idempotent_and_tidy(s):
    out = normalize(s)
    assert normalize(out) == out
    assert out == out.strip() and "  " not in out


# ------------------------------------------------------------------------------------------ readers


def test_read_tsv_two_and_three_columns(tmp_path):
    path = write(tmp_path / "deu.txt",
                 "\ufeffGo.\tGeh.\tCC-BY 2.0 (France) #1\r\nHi.\tHallo!\r\n\r\nRun!\tLauf!\t#3\t#4\n")
    corpus = read_tsv(path)
    assert corpus.src == ["Go.", "Hi.", "Run!"]
    assert corpus.tgt == ["Geh.", "Hallo!", "Lauf!"]
    assert corpus.align is None and len(corpus) == 3


def test_read_tsv_line_without_tab(tmp_path):
    path = write(tmp_path / "x.tsv", "a\tb\nno tab here\n")
    with pytest.raises(CorpusError, match=r'x\.tsv, line 2: no tab separator \(expected "source<TAB>target"\)') as err:
        read_tsv(path)
    assert err.value.line == 2 and err.value.path == str(path)


@pytest.mark.parametrize("line, side", [("\tziel", "source"), ("quelle\t  ", "target")])
def test_read_tsv_empty_field(tmp_path, line, side):
    path = write(tmp_path / "x.tsv", f"a\tb\nc\td\n{line}\n")
    with pytest.raises(CorpusError, match=rf"x\.tsv, line 3: empty {side} field"):
        read_tsv(path)


def test_read_tsv_undecodable_bytes(tmp_path):
    path = write(tmp_path / "bad.tsv", b"ok\tgut\n\xff\xfe bad\tx\n")
    with pytest.raises(CorpusError, match=r"bad\.tsv, line 2: .*not valid utf-8") as err:
        read_tsv(path)
    assert err.value.line == 2


def test_read_tsv_other_encoding(tmp_path):
    path = write(tmp_path / "latin.tsv", "caf\xe9\tKaffee\n".encode("latin-1"))
    assert read_tsv(path, encoding="latin-1").src == ["café"]


@pytest.mark.parametrize("data", [b"", b"\n\n  \n"])
def test_read_tsv_empty_file(tmp_path, data):
    path = write(tmp_path / "empty.tsv", data)
    with pytest.raises(CorpusError, match=r"empty\.tsv: empty corpus"):
        read_tsv(path)


def test_read_tsv_missing_file(tmp_path):
    with pytest.raises(CorpusError, match=r"nope\.tsv: file not found"):
        read_tsv(tmp_path / "nope.tsv")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(*[st.text(st.characters(blacklist_characters="\t\n\r\ufeff",
                                                  blacklist_categories=("Cs",)), min_size=1)
                            .filter(lambda s: not s.isspace())] * 2), min_size=1, max_size=20))
def test_read_tsv_round_trip(tmp_path_factory, pairs):
    path = tmp_path_factory.mktemp("rt") / "pairs.tsv"
    write(path, "".join(f"{s}\t{t}\n" for s, t in pairs))
    corpus = read_tsv(path)
    assert list(zip(corpus.src, corpus.tgt, strict=True)) == pairs


def test_read_parallel_ok(tmp_path):
    src = write(tmp_path / "a.en", "hello\nworld\n")
    tgt = write(tmp_path / "a.de", "hallo\r\nwelt")  # CRLF and no final newline are fine
    corpus = read_parallel(src, tgt)
    assert corpus.src == ["hello", "world"] and corpus.tgt == ["hallo", "welt"]


def test_read_parallel_different_line_counts(tmp_path):
    src = write(tmp_path / "train.en", "a\nb\nc\n")
    tgt = write(tmp_path / "train.de", "x\ny\n")
    with pytest.raises(CorpusError) as err:
        read_parallel(src, tgt)
    msg = str(err.value)
    assert "train.en has 3 lines" in msg and "train.de has 2" in msg
    assert "line 3 of" in msg and err.value.line == 3


def test_read_parallel_undecodable_bytes(tmp_path):
    src = write(tmp_path / "s.txt", "a\nb\nc\n")
    tgt = write(tmp_path / "t.txt", b"x\ny\n\xc3\x28\n")
    with pytest.raises(CorpusError, match=r"t\.txt, line 3: .*not valid utf-8"):
        read_parallel(src, tgt)


def test_read_parallel_empty_line(tmp_path):
    src = write(tmp_path / "s.txt", "a\n\nc\n")
    tgt = write(tmp_path / "t.txt", "x\ny\nz\n")
    with pytest.raises(CorpusError, match=r"s\.txt, line 2: empty line"):
        read_parallel(src, tgt)


def test_read_parallel_bad_alignment(tmp_path):
    src = write(tmp_path / "s.txt", "a b\nc\n")
    tgt = write(tmp_path / "t.txt", "x\ny\n")
    good = write(tmp_path / "good.align", "0-0 1-0\n0-0\n")
    assert read_parallel(src, tgt, align_path=good).align == ["0-0 1-0", "0-0"]
    bad = write(tmp_path / "bad.align", "0-0\n0-1\n")
    with pytest.raises(CorpusError, match=r"bad\.align, line 2: link 0-1 is out of range"):
        read_parallel(src, tgt, align_path=bad)


def test_read_csv_ok_with_multiline_field(tmp_path):
    path = write(tmp_path / "d.csv", 'id,en,es\n1,hello,hola\n2,"two\nlines",dos\n3,bye,adiós\n')
    corpus = read_csv(path, "en", "es")
    assert corpus.src == ["hello", "two\nlines", "bye"] and corpus.tgt == ["hola", "dos", "adiós"]


def test_read_csv_missing_column(tmp_path):
    path = write(tmp_path / "d.csv", "id,english,spanish\n1,hi,hola\n")
    with pytest.raises(CorpusError, match=r"d\.csv, line 1: column\(s\) 'en' not found; "
                                          r"available columns: 'id', 'english', 'spanish'"):
        read_csv(path, "en", "spanish")


def test_read_csv_missing_value(tmp_path):
    path = write(tmp_path / "d.csv", 'en,es\nhi,hola\n"a\nb",x\nlonely,\n')
    with pytest.raises(CorpusError, match=r"d\.csv, line 5: missing value in column 'es'"):
        read_csv(path, "en", "es")
    short = write(tmp_path / "short.csv", "en,es\nhi\n")
    with pytest.raises(CorpusError, match=r"short\.csv, line 2: missing value in column 'es'"):
        read_csv(short, "en", "es")


def test_read_csv_empty(tmp_path):
    with pytest.raises(CorpusError, match="empty corpus"):
        read_csv(write(tmp_path / "e.csv", ""), "en", "es")
    with pytest.raises(CorpusError, match="empty corpus"):
        read_csv(write(tmp_path / "h.csv", "en,es\n"), "en", "es")


def test_read_corpus_dispatch(tmp_path):
    tsv = write(tmp_path / "c.tsv", "a\tb\n")
    src, tgt = write(tmp_path / "c.en", "a\n"), write(tmp_path / "c.de", "b\n")
    csv_path = write(tmp_path / "c.csv", "en;de\na;b\n")
    expected = ParallelCorpus(["a"], ["b"])
    assert read_corpus({"format": "tsv", "path": tsv}) == expected
    assert read_corpus({"format": "parallel", "src_path": src, "tgt_path": tgt}) == expected
    assert read_corpus({"format": "csv", "path": csv_path, "src_column": "en", "tgt_column": "de",
                        "delimiter": ";"}) == expected


@pytest.mark.parametrize("spec, message", [
    ({"format": "xml", "path": "x"}, "unknown corpus format 'xml'"),
    ({"path": "x"}, "unknown corpus format None"),
    ({"format": "csv", "path": "x", "src_column": "en"}, "missing key.*tgt_column"),
    ({"format": "tsv", "path": "x", "src_colum": "en"}, "unknown key.*src_colum"),
])
def test_read_corpus_bad_spec(spec, message):
    with pytest.raises(CorpusError, match=message):
        read_corpus(spec)


def test_parallel_corpus_validates_lengths():
    with pytest.raises(CorpusError, match="source has 2 sentences but target has 1"):
        ParallelCorpus(["a", "b"], ["x"])
    with pytest.raises(CorpusError, match="alignment"):
        ParallelCorpus(["a"], ["x"], ["0-0", "0-0"])
    assert parse_alignment("0-0 2-1") == [(0, 0), (2, 1)]
    with pytest.raises(ValueError):
        parse_alignment("0:1")


# ------------------------------------------------------------------------------------------ cleaning


def test_clean_normalises_filters_and_dedupes():
    corpus = ParallelCorpus(
        src=["cafe\u0301  noir", "a b c d e", "", "café noir", "x", "café\tnoir"],
        tgt=["schwarzer Kaffee", "kurz", "leer", "schwarzer  Kaffee", "y z", "anders"],
        align=["0-1 1-0", "0-0", "", "0-1 1-0", "0-0 0-1", "0-0"],
    )
    out, report = clean(corpus, min_len=1, max_len=4)
    assert out.src == ["café noir", "x", "café noir"]
    assert out.tgt == ["schwarzer Kaffee", "y z", "anders"]
    assert out.align == ["0-1 1-0", "0-0 0-1", "0-0"]
    assert report.to_dict() == {"input_pairs": 6, "too_short": 1, "too_long": 1, "duplicates": 1,
                                "kept": 3, "min_len": 1, "max_len": 4}


def test_clean_keeps_duplicates_when_asked():
    corpus = ParallelCorpus(["a", "a"], ["b", "b"])
    out, report = clean(corpus, dedupe=False)
    assert len(out) == 2 and report.duplicates == 0


def test_clean_everything_dropped():
    with pytest.raises(CorpusError, match=r"empty corpus after cleaning: 2 pairs in, 0 too short.* 2 too long"):
        clean(ParallelCorpus(["a b c", "d e f"], ["x y z", "u v w"]), max_len=2)


# --------------------------------------------------------------------------------------- splitting


def numbered(n: int, align: bool = False) -> ParallelCorpus:
    return ParallelCorpus([f"s{i}" for i in range(n)], [f"t{i}" for i in range(n)],
                          ["0-0"] * n if align else None)


def test_split_is_deterministic_and_disjoint():
    corpus = numbered(100)
    a = split(corpus, dev_size=10, test_size=15, seed=3)
    b = split(corpus, dev_size=10, test_size=15, seed=3)
    c = split(corpus, dev_size=10, test_size=15, seed=4)
    assert a == b and a.dev.src != c.dev.src
    assert a.sizes() == {"train": 75, "dev": 10, "test": 15}
    parts = [set(a.train.src), set(a.dev.src), set(a.test.src)]
    assert set().union(*parts) == set(corpus.src) and sum(map(len, parts)) == 100
    for part in (a.train, a.dev, a.test):  # pairs stay together
        assert [s[1:] for s in part.src] == [t[1:] for t in part.tgt]


def test_split_shrinks_dev_and_test_for_small_corpora():
    s = split(numbered(5), dev_size=10, test_size=10, seed=0)
    assert len(s.train) >= 1 and len(s.dev) >= 1 and len(s.test) >= 1
    assert sum(s.sizes().values()) == 5
    s3 = split(numbered(3), dev_size=100, test_size=1, seed=0)
    assert s3.sizes() == {"train": 1, "dev": 1, "test": 1}


def test_split_too_small():
    with pytest.raises(CorpusError, match="too small to split: 2 pair"):
        split(numbered(2), dev_size=1, test_size=1, seed=0)


def test_write_splits_round_trip(tmp_path):
    corpus = ParallelCorpus(["ein Hund", "zwei Katzen", "größer", "a b"], ["a dog", "two cats", "bigger", "c"],
                            ["0-0 1-1", "0-0 1-1", "0-0", "0-0 1-0"])
    splits = split(corpus, dev_size=1, test_size=1, seed=0)
    written = write_splits(splits, tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(f"{n}.{e}" for n in ("train", "dev", "test")
                                                     for e in ("src", "tgt", "align"))
    for name in ("train", "dev", "test"):
        back = read_parallel(tmp_path / "out" / f"{name}.src", tmp_path / "out" / f"{name}.tgt",
                             align_path=tmp_path / "out" / f"{name}.align")
        assert back == getattr(splits, name)


def test_write_splits_refuses_line_breaks(tmp_path):
    corpus = ParallelCorpus(["a\nb", "c", "d"], ["x", "y", "z"])
    with pytest.raises(CorpusError, match="line break"):
        write_splits(split(corpus, dev_size=0, test_size=0, seed=0), tmp_path)
