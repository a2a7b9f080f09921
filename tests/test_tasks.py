"""Synthetic tasks: deterministic, sized as asked, target a function of the source, gold answers right."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt_core import tasks
from nmt_core.corpus import parse_alignment
from nmt_core.tasks import dates, numbers_de, recall, toy_en_es

NAMES = ["toy-en-es", "dates", "numbers-de", "recall"]
SMALL = 400


@pytest.fixture(scope="module")
def samples() -> dict[str, list]:
    """Three seeds of every task, generated once for the whole module."""
    return {name: [tasks.generate(name, 2000, seed) for seed in (0, 1, 2)] for name in NAMES}


def test_registry_lists_every_task():
    infos = tasks.list_tasks()
    assert [i.name for i in infos] == NAMES
    for info in infos:
        assert info.examples and info.recommended_tokenizer in ("word", "char")
        assert info.description and info.source_lang and info.target_lang


def test_unknown_task_and_option():
    with pytest.raises(ValueError, match="unknown task 'nope'.*toy-en-es"):
        tasks.generate("nope", 10, 0)
    with pytest.raises(ValueError, match="no option.*colour"):
        tasks.generate("dates", 10, 0, colour=3)
    with pytest.raises(ValueError, match="size must be a positive integer"):
        tasks.generate("dates", 0, 0)


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_per_seed_and_sized(name, samples):
    a = tasks.generate(name, SMALL, 7)
    assert a == tasks.generate(name, SMALL, 7)
    assert a.src != tasks.generate(name, SMALL, 8).src
    assert len(a) == SMALL
    assert samples[name][0].src[:SMALL] != samples[name][1].src[:SMALL]


@pytest.mark.parametrize("name", NAMES)
def test_sources_distinct_lowercase_and_tokenised(name, samples):
    for corpus in samples[name]:
        assert len(set(corpus.src)) == len(corpus.src)
        for s in corpus.src[:500]:
            assert s == s.lower() and s == " ".join(s.split())


@pytest.mark.parametrize("name", NAMES)
def test_target_is_a_function_of_the_source(name, samples):
    seen: dict[str, str] = {}
    for corpus in samples[name]:
        for s, t in zip(corpus.src, corpus.tgt, strict=True):
            assert seen.setdefault(s, t) == t, f"{s!r} -> {seen[s]!r} and {t!r}"


@pytest.mark.parametrize("name", NAMES)
def test_alignments_in_range(name, samples):
    info = tasks.get_task(name).info
    corpus = samples[name][0]
    assert (corpus.align is not None) == info.has_alignment
    if corpus.align is None:
        return
    for s, t, a in zip(corpus.src, corpus.tgt, corpus.align, strict=True):
        ns, nt = len(s.split()), len(t.split())
        links = parse_alignment(a)
        assert links and all(0 <= i < ns and 0 <= j < nt for i, j in links), (s, t, a)
        assert {j for _, j in links} == set(range(nt)), f"unaligned target token in {t!r} ({a})"


@pytest.mark.parametrize("name", ["toy-en-es", "numbers-de", "recall"])
def test_translate_reproduces_generated_pairs(name, samples):
    translate = tasks.get_task(name).translate
    corpus = samples[name][0]
    for s, t, a in zip(corpus.src[:1000], corpus.tgt, corpus.align, strict=False):
        assert translate(s) == (t, a)


# ---------------------------------------------------------------------------------------- toy-en-es


@pytest.mark.parametrize("source, target", [
    ("the red car is fast", "el coche rojo es rápido"),
    ("the red car", "el coche rojo"),
    ("how are you ?", "¿ cómo estás ?"),
    ("the small dogs eat the green apples", "los perros pequeños comen las manzanas verdes"),
    ("i eat an apple", "como una manzana"),
    ("she eats the red apples .", "come las manzanas rojas ."),
    ("she is tired", "está cansada"),
    ("the girls are tall", "las niñas son altas"),
    ("is the car red ?", "¿ es rojo el coche ?"),
    ("is the dog in the house ?", "¿ está el perro en la casa ?"),
    ("in the big house", "en la casa grande"),
    ("the big red car", "el coche rojo grande"),
    ("the car is not red", "el coche no es rojo"),
    ("the dog does not sleep", "el perro no duerme"),
    ("does the boy read the book ?", "¿ lee el niño el libro ?"),
    ("where does your sister live ?", "¿ dónde vive tu hermana ?"),
    ("what do you want ?", "¿ qué quieres ?"),
    ("who sleeps in the garden ?", "¿ quién duerme en el jardín ?"),
    ("we go to the park", "vamos al parque"),
    ("the cat sleeps under the car", "el gato duerme debajo del coche"),
    ("the boy is tall and intelligent", "el niño es alto e inteligente"),
    ("i drink milk but the cats drink water", None),  # "water" is deliberately not in the lexicon
])
def test_toy_demo_translations(source, target):
    if target is None:
        with pytest.raises(ValueError, match="not in the toy grammar"):
            toy_en_es.translate(source)
    else:
        assert toy_en_es.translate(source)[0] == target


def test_toy_alignment_conventions():
    # pronoun and verb both align to the conjugated verb; "¿" and "?" to "?"; "al" to "to" + "the"
    assert toy_en_es.translate("i eat an apple") == ("como una manzana", "0-0 1-0 2-1 3-2")
    assert toy_en_es.translate("how are you ?") == ("¿ cómo estás ?", "0-1 1-2 2-2 3-0 3-3")
    assert toy_en_es.translate("we go to the park")[1] == "0-0 1-0 2-1 3-1 4-2"


def test_toy_examples_parse_and_tolerate_casing():
    for s in toy_en_es.INFO.examples:
        toy_en_es.translate(s)
    assert toy_en_es.translate("How are you?") == toy_en_es.translate("how are you ?")


def test_toy_every_source_token_aligned_and_lengths(samples):
    corpus = samples["toy-en-es"][0]
    lengths = [len(s.split()) for s in corpus.src]
    assert min(lengths) >= 3 and max(lengths) <= 25
    assert 6 <= float(np.mean(lengths)) <= 11
    for s, a in zip(corpus.src, corpus.align, strict=True):
        assert {i for i, _ in parse_alignment(a)} == set(range(len(s.split()))), (s, a)


def test_toy_vocabulary_size(samples):
    types = {w for c in samples["toy-en-es"] for s in c.src for w in s.split()}
    assert 150 <= len(types) <= 300


# -------------------------------------------------------------------------------------------- dates


def test_dates_weekday_and_rendering_are_correct(samples):
    weekdays = set(dates.WEEKDAYS)
    for corpus in samples["dates"]:
        for s, t in zip(corpus.src, corpus.tgt, strict=True):
            d = dt.date.fromisoformat(t)
            assert 1900 <= d.year <= 2099
            named = weekdays.intersection(s.split())
            if named:
                assert named == {d.strftime("%A").lower()}, (s, t)
            assert s in {dates.FORMATS[f](d) for f in dates.FORMATS}, (s, t)


def test_dates_known_values():
    may3 = dt.date(1979, 5, 3)
    assert dates.render(may3, "weekday_month_d_y") == "thursday , may 3 , 1979"
    assert dates.render(may3, "d_of_month_y") == "3rd of may 1979"
    assert dates.render(may3, "dd_mm_yy") == "03 / 05 / 79"
    assert [dates.ordinal(d) for d in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] == \
        ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st"]
    with pytest.raises(ValueError, match="two-digit years"):
        dates.render(dt.date(1920, 1, 1), "dd_mm_yy")


def test_dates_year_option():
    corpus = tasks.generate("dates", 200, 0, start_year=2000, end_year=2001)
    assert {t[:4] for t in corpus.tgt} == {"2000", "2001"}


# --------------------------------------------------------------------------------------- numbers-de

NUMBERS = {
    0: ("zero", "null"),
    1: ("one", "eins"),
    7: ("seven", "sieben"),
    11: ("eleven", "elf"),
    16: ("sixteen", "sechzehn"),
    17: ("seventeen", "siebzehn"),
    21: ("twenty one", "ein und zwanzig"),
    27: ("twenty seven", "sieben und zwanzig"),
    30: ("thirty", "dreißig"),
    99: ("ninety nine", "neun und neunzig"),
    100: ("one hundred", "ein hundert"),
    101: ("one hundred and one", "ein hundert eins"),
    121: ("one hundred and twenty one", "ein hundert ein und zwanzig"),
    342: ("three hundred and forty two", "drei hundert zwei und vierzig"),
    1000: ("one thousand", "ein tausend"),
    1001: ("one thousand and one", "ein tausend eins"),
    1234: ("one thousand two hundred and thirty four", "ein tausend zwei hundert vier und dreißig"),
    101000: ("one hundred and one thousand", "ein hundert ein tausend"),
    999999: ("nine hundred and ninety nine thousand nine hundred and ninety nine",
             "neun hundert neun und neunzig tausend neun hundert neun und neunzig"),
}


@pytest.mark.parametrize("value", sorted(NUMBERS))
def test_numbers_de_table(value):
    en, de, _ = numbers_de.words(value)
    assert (" ".join(en), " ".join(de)) == NUMBERS[value]
    assert numbers_de.parse_english(" ".join(en)) == value


def test_numbers_de_alignment():
    # three(0) hundred(1) and(2) forty(3) two(4) -> drei(0) hundert(1) zwei(2) und(3) vierzig(4)
    assert numbers_de.translate("three hundred and forty two") == \
        ("drei hundert zwei und vierzig", "0-0 1-1 3-3 3-4 4-2")


@settings(max_examples=50)
@given(st.integers(0, numbers_de.MAX_SUPPORTED))
def test_numbers_de_round_trip(value):
    en, de, links = numbers_de.words(value)
    assert numbers_de.parse_english(" ".join(en)) == value
    assert {j for _, j in links} == set(range(len(de)))


def test_numbers_de_options():
    corpus = tasks.generate("numbers-de", 100, 0, max_value=99)
    assert {numbers_de.parse_english(s) for s in corpus.src} == set(range(100))
    with pytest.raises(ValueError, match="only 100 distinct numbers"):
        tasks.generate("numbers-de", 101, 0, max_value=99)


# ------------------------------------------------------------------------------------------- recall


def test_recall_target_is_first_symbol():
    corpus = tasks.generate("recall", 300, 0, lag=5, alphabet_size=3)
    for s, t in zip(corpus.src, corpus.tgt, strict=True):
        toks = s.split()
        assert len(toks) == 6 and t == toks[0] and set(toks) <= {"a", "b", "c"}
    assert corpus.align == ["0-0"] * 300
    with pytest.raises(ValueError, match="only 8 distinct"):
        tasks.generate("recall", 9, 0, lag=2, alphabet_size=2)


def test_recall_arrays():
    x, y = recall.recall_arrays(64, lag=12, alphabet_size=5, seed=1)
    assert x.shape == (64, 13) and y.shape == (64,)
    assert x.dtype == np.int64 and y.dtype == np.int64
    assert (y == x[:, 0]).all() and x.min() >= 0 and x.max() < 5
    x2, _ = recall.recall_arrays(64, lag=12, alphabet_size=5, seed=1)
    assert (x == x2).all()
