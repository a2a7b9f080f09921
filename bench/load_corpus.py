"""Time read_tsv, clean and split on a generated 1,000,000-line TSV (target: well under a minute).

Run: ``python bench/load_corpus.py [--lines N]``. The file is written to a temporary directory and
deleted afterwards; generation time is not counted.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nmt_core.corpus import clean, read_tsv  # noqa: E402
from nmt_core.splits import split  # noqa: E402

WORDS_EN = ("the", "a", "red", "small", "dog", "cat", "house", "runs", "eats", "is", "big", "green", "apple",
            "old", "man", "woman", "we", "they")
WORDS_DE = ("der", "die", "das", "rot", "klein", "hund", "katze", "haus", "läuft", "isst", "ist", "groß", "grün",
            "apfel", "alt", "mann", "frau")


def make_tsv(path: Path, n: int, seed: int = 0) -> None:
    """Short Anki-style pairs with an attribution column; about 1% duplicates and 1% long lines."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            k = 60 if i % 100 == 0 else rng.randint(2, 10)
            en = " ".join(rng.choices(WORDS_EN, k=k))
            de = " ".join(rng.choices(WORDS_DE, k=k))
            f.write(f"{en} .\t{de} .\tCC-BY 2.0 (France) Attribution: tatoeba.org #{i}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.tsv"
        make_tsv(path, args.lines)
        t0 = time.perf_counter()
        corpus = read_tsv(path)
        t1 = time.perf_counter()
        cleaned, report = clean(corpus, max_len=50)
        t2 = time.perf_counter()
        splits = split(cleaned, dev_size=1000, test_size=1000, seed=0)
        t3 = time.perf_counter()
    print(f"lines      {args.lines:>10,}")
    print(f"read_tsv   {t1 - t0:8.2f} s")
    print(f"clean      {t2 - t1:8.2f} s   {report.to_dict()}")
    print(f"split      {t3 - t2:8.2f} s   {splits.sizes()}")
    print(f"total      {t3 - t0:8.2f} s")


if __name__ == "__main__":
    main()
