"""The benchmark corpus: N training pairs and held-out dev/test files from any parallel corpus.

Shared by ``bench/time_to_quality.py`` and ``bench/recipe_sweep.py`` so that both toolkits, and every
recipe, see the same files. The held-out parts are carved first, by *sentence* (no dev/test sentence,
source or target, lower-cased, occurs in training: ``split(held_out="sentences")``), then the
training pairs are drawn from what is left.

    python bench/bench_data.py --corpus data/tatoeba/deu.txt --pairs 20000 --out data/bench-20k
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nmt_core import corpus  # noqa: E402
from nmt_core.splits import Splits, leaked_sentences, split, write_splits  # noqa: E402

DEFAULT_CORPUS = Path("/work/shared/data/tatoeba-deu-eng/deu-eng.zip")


def read_any(spec: list[str], cache: Path) -> corpus.ParallelCorpus:
    """One TSV (or a .zip holding one, like manythings.org's downloads), or two line-aligned files."""
    if len(spec) == 2:
        return corpus.read_parallel(spec[0], spec[1])
    path = Path(spec[0])
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            name = next(n for n in z.namelist() if n.endswith(".txt") and not n.startswith("_"))
            cache.mkdir(parents=True, exist_ok=True)
            z.extract(name, cache)
            path = cache / name
    return corpus.read_tsv(path)


def prepare(spec: list[str], out: Path, *, pairs: int, dev: int, test: int, max_len: int = 15,
            seed: int = 1) -> dict:
    """Write ``{train,dev,test}.{src,tgt}`` and ``about.json`` into ``out``; returns the description."""
    cleaned, report = corpus.clean(read_any(spec, out / "raw"), min_len=1, max_len=max_len)
    splits = split(cleaned, dev_size=dev, test_size=test, seed=seed, held_out="sentences")
    train = splits.train
    if pairs and pairs < len(train):
        keep = np.sort(np.random.default_rng(seed).choice(len(train), pairs, replace=False)).tolist()
        train = train.select(keep)
    final = Splits(train, splits.dev, splits.test)
    write_splits(final, out)
    about = {"corpus": " ".join(spec), "sizes": final.sizes(), "max_len": max_len, "seed": seed,
             "cleaning": report.to_dict(), "held_out": "sentences",
             "leaks": {"dev": leaked_sentences(train, splits.dev),
                       "test": leaked_sentences(train, splits.test)}}
    (out / "about.json").write_text(json.dumps(about, indent=1))
    return about


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", nargs="+", default=[str(DEFAULT_CORPUS)],
                        help="a TSV (or .zip of one), or two line-aligned files SRC TGT")
    parser.add_argument("--pairs", type=int, default=20_000)
    parser.add_argument("--dev", type=int, default=500)
    parser.add_argument("--test", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    print(json.dumps(prepare(args.corpus, Path(args.out), pairs=args.pairs, dev=args.dev, test=args.test,
                             seed=args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
