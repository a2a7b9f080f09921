"""Parallel corpora: read them, clean them, split them, write the splits.

Why this module is strict about errors: the people who upload a corpus to NMT Studio are students, and
"ValueError: not enough values to unpack" teaches nothing. Every ``CorpusError`` names the file and the
1-based line, e.g. ``data/x.tsv, line 17: no tab separator (expected "source<TAB>target")``, and keeps
both as attributes so the app can point at the line.

Why plain string operations: reading + cleaning + splitting a million short pairs has to stay in the
seconds (``bench/load_corpus.py``), so files are read and decoded in one call, lines come from
``str.split("\\n")`` and the hot loops avoid regexes. A decoding error is turned into a line number by
counting newlines before the offending byte, which costs nothing on the happy path.

Alignments use the Pharaoh format of fast_align/GIZA++: ``"0-0 1-2 2-1"``, each link ``i-j`` joining
source token ``i`` to target token ``j`` (0-based positions of whitespace tokens).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .text import normalize

if TYPE_CHECKING:
    import pandas as pd

PathLike = str | Path


class CorpusError(ValueError):
    """A corpus file (or spec) is unusable; the message says where and why.

    ``path`` and ``line`` (1-based) are ``None`` when the problem is not tied to one file or line.
    """

    def __init__(self, message: str, *, path: PathLike | None = None, line: int | None = None):
        super().__init__(message)
        self.path = None if path is None else str(path)
        self.line = line


def _error(path: PathLike, line: int | None, what: str) -> CorpusError:
    where = f"{path}, line {line}" if line is not None else f"{path}"
    return CorpusError(f"{where}: {what}", path=path, line=line)


@dataclass(frozen=True)
class ParallelCorpus:
    """Sentence pairs, ``src[i]`` translated by ``tgt[i]``, with optional gold word alignments."""

    src: list[str]
    tgt: list[str]
    align: list[str] | None = None  # Pharaoh "i-j ..." per pair, or None when unknown

    def __post_init__(self) -> None:
        if len(self.src) != len(self.tgt):
            raise CorpusError(f"source has {len(self.src)} sentences but target has {len(self.tgt)}")
        if self.align is not None and len(self.align) != len(self.src):
            raise CorpusError(f"{len(self.src)} sentence pairs but {len(self.align)} alignment lines")

    def __len__(self) -> int:
        return len(self.src)

    def select(self, indices: Sequence[int]) -> ParallelCorpus:
        """The pairs at ``indices``, in that order (alignments follow their pairs)."""
        src, tgt = self.src, self.tgt
        align = None if self.align is None else [self.align[i] for i in indices]
        return ParallelCorpus([src[i] for i in indices], [tgt[i] for i in indices], align)

    def to_frame(self, limit: int | None = None) -> pd.DataFrame:
        """The first ``limit`` pairs as a DataFrame (columns src, tgt[, align]) for previews."""
        import pandas as pd  # imported lazily: the readers must not pay for pandas

        n = len(self) if limit is None else min(limit, len(self))
        data: dict[str, list[str]] = {"src": self.src[:n], "tgt": self.tgt[:n]}
        if self.align is not None:
            data["align"] = self.align[:n]
        return pd.DataFrame(data)


def parse_alignment(links: str) -> list[tuple[int, int]]:
    """``"0-0 1-2"`` -> ``[(0, 0), (1, 2)]``; raises ValueError on anything else."""
    pairs = []
    for link in links.split():
        i, sep, j = link.partition("-")
        if not sep or not i.isdigit() or not j.isdigit():
            raise ValueError(f"bad alignment link {link!r} (expected 'i-j' with 0-based integers)")
        pairs.append((int(i), int(j)))
    return pairs


# --------------------------------------------------------------------------------------------- reading


def _read_lines(path: PathLike, encoding: str) -> list[str]:
    """The file's lines without line terminators; a final newline does not start an extra line."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise CorpusError(f"{path}: file not found", path=path) from None
    except OSError as err:
        raise CorpusError(f"{path}: cannot read file ({err.strerror})", path=path) from None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1  # exact for ASCII-compatible encodings
        bad = data[err.start : err.start + 4]
        raise _error(path, line, f"bytes {bad!r} are not valid {encoding} (is the file in another "
                                 f"encoding? pass encoding=...)") from None
    except LookupError:
        raise CorpusError(f"unknown encoding {encoding!r}", path=path) from None
    if text.startswith("\ufeff"):  # byte-order mark written by some Windows editors
        text = text[1:]
    if "\r" in text:  # Windows (CRLF) and old Mac (CR alone) line ends: both end a line
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def read_tsv(path: PathLike, *, encoding: str = "utf-8") -> ParallelCorpus:
    """Read ``source<TAB>target[<TAB>anything]`` lines (Tatoeba / manythings.org Anki files).

    Columns after the second (the attribution column of newer Anki exports) are ignored, and blank
    lines are skipped. Fields are kept as written; ``clean`` normalises them.
    """
    src: list[str] = []
    tgt: list[str] = []
    for n, line in enumerate(_read_lines(path, encoding), start=1):
        parts = line.split("\t", 2)
        if len(parts) < 2:
            if not line or line.isspace():
                continue
            raise _error(path, n, 'no tab separator (expected "source<TAB>target")')
        s, t = parts[0], parts[1]
        if not s or s.isspace():
            raise _error(path, n, "empty source field (the text before the first tab)")
        if not t or t.isspace():
            raise _error(path, n, "empty target field (the text after the first tab)")
        src.append(s)
        tgt.append(t)
    if not src:
        raise CorpusError(f"{path}: empty corpus (no sentence pairs found)", path=path)
    return ParallelCorpus(src, tgt)


def read_parallel(src_path: PathLike, tgt_path: PathLike, *, align_path: PathLike | None = None,
                  encoding: str = "utf-8") -> ParallelCorpus:
    """Read two line-aligned files (line ``i`` of one translates line ``i`` of the other).

    ``align_path`` optionally names a third line-aligned file of Pharaoh alignments (as written by
    ``write_splits``); its links are checked against the token counts of their pair.
    """
    src = _read_lines(src_path, encoding)
    tgt = _read_lines(tgt_path, encoding)
    if len(src) != len(tgt):
        longer, shorter = (src_path, tgt_path) if len(src) > len(tgt) else (tgt_path, src_path)
        raise CorpusError(
            f"line counts differ: {src_path} has {len(src)} lines but {tgt_path} has {len(tgt)}; "
            f"line {min(len(src), len(tgt)) + 1} of {longer} has no partner in {shorter} "
            f"(the two files must be line-aligned)", path=longer, line=min(len(src), len(tgt)) + 1)
    if not src:
        raise CorpusError(f"empty corpus: {src_path} and {tgt_path} hold no lines", path=src_path)
    for path, lines in ((src_path, src), (tgt_path, tgt)):
        for n, line in enumerate(lines, start=1):
            if not line or line.isspace():
                raise _error(path, n, "empty line (every line must hold one sentence)")
    align = None
    if align_path is not None:
        align = _read_lines(align_path, encoding)
        if len(align) != len(src):
            raise CorpusError(f"{align_path} has {len(align)} lines but {src_path} has {len(src)}",
                              path=align_path)
        _check_alignments(align_path, src, tgt, align)
    return ParallelCorpus(src, tgt, align)


def _check_alignments(path: PathLike, src: list[str], tgt: list[str], align: list[str]) -> None:
    for n, (s, t, a) in enumerate(zip(src, tgt, align, strict=True), start=1):
        try:
            links = parse_alignment(a)
        except ValueError as err:
            raise _error(path, n, str(err)) from None
        ns, nt = len(s.split()), len(t.split())
        for i, j in links:
            if i >= ns or j >= nt:
                raise _error(path, n, f"link {i}-{j} is out of range ({ns} source, {nt} target tokens)")


def read_csv(path: PathLike, src_column: str, tgt_column: str, *, encoding: str = "utf-8",
             delimiter: str = ",") -> ParallelCorpus:
    """Read two named columns of a CSV file with a header row; other columns are ignored.

    Quoted fields may span lines; errors then name the line on which the record starts.
    """
    lines_text = "\n".join(_read_lines(path, encoding))
    reader = csv.reader(io.StringIO(lines_text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            raise CorpusError(f"{path}: empty corpus (no header row)", path=path)
        header = [h.strip() for h in header]
        if src_column == tgt_column:
            raise _error(path, 1, f"the source and target columns are the same ({src_column!r}): a model would "
                                  "learn to copy; choose two different columns")
        missing = [c for c in (src_column, tgt_column) if c not in header]
        if missing:
            available = ", ".join(repr(h) for h in header)
            raise _error(path, 1, f"column(s) {', '.join(map(repr, missing))} not found; "
                                  f"available columns: {available}")
        si, ti = header.index(src_column), header.index(tgt_column)
        src: list[str] = []
        tgt: list[str] = []
        start = reader.line_num + 1
        for row in reader:
            if row:  # csv yields [] for blank lines
                for col, idx in ((src_column, si), (tgt_column, ti)):
                    if idx >= len(row) or not row[idx].strip():
                        raise _error(path, start, f"missing value in column {col!r}")
                src.append(row[si])
                tgt.append(row[ti])
            start = reader.line_num + 1
    except csv.Error as err:
        raise _error(path, reader.line_num, f"malformed CSV ({err})") from None
    if not src:
        raise CorpusError(f"{path}: empty corpus (a header but no rows)", path=path)
    return ParallelCorpus(src, tgt)


_SPEC_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # format: (required keys, optional keys) besides "format"
    "tsv": (("path",), ("encoding",)),
    "parallel": (("src_path", "tgt_path"), ("align_path", "encoding")),
    "csv": (("path", "src_column", "tgt_column"), ("encoding", "delimiter")),
}


def read_corpus(spec: dict[str, Any]) -> ParallelCorpus:
    """Read the corpus a config describes, e.g. ``{"format": "tsv", "path": "data/deu.txt"}``.

    Formats: ``tsv`` (path), ``parallel`` (src_path, tgt_path[, align_path]), ``csv`` (path,
    src_column, tgt_column[, delimiter]); every format accepts ``encoding``. Unknown keys are an
    error, so a typo such as ``src_colum`` does not silently fall back to a default.
    """
    fmt = spec.get("format")
    if fmt not in _SPEC_KEYS:
        raise CorpusError(f"unknown corpus format {fmt!r}; expected one of {', '.join(_SPEC_KEYS)}")
    required, optional = _SPEC_KEYS[fmt]
    missing = [k for k in required if k not in spec]
    if missing:
        raise CorpusError(f"corpus spec for format {fmt!r} is missing key(s): {', '.join(missing)}")
    unknown = sorted(set(spec) - set(required) - set(optional) - {"format"})
    if unknown:
        raise CorpusError(f"corpus spec for format {fmt!r} has unknown key(s): {', '.join(unknown)} "
                          f"(allowed: {', '.join(required + optional)})")
    extra = {k: spec[k] for k in optional if k in spec}
    if fmt == "tsv":
        return read_tsv(spec["path"], **extra)
    if fmt == "parallel":
        return read_parallel(spec["src_path"], spec["tgt_path"], **extra)
    return read_csv(spec["path"], spec["src_column"], spec["tgt_column"], **extra)


# -------------------------------------------------------------------------------------------- cleaning


@dataclass(frozen=True)
class CleanReport:
    """What ``clean`` dropped and why; length drops are counted before duplicate drops."""

    input_pairs: int
    too_short: int   # a side has fewer than min_len tokens
    too_long: int    # a side has more than max_len tokens (and neither side is too short)
    duplicates: int  # exact repeats of an earlier kept pair, after normalisation
    kept: int
    min_len: int
    max_len: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def clean(corpus: ParallelCorpus, *, min_len: int = 1, max_len: int = 50,
          dedupe: bool = True) -> tuple[ParallelCorpus, CleanReport]:
    """Normalise both sides (``text.normalize``), drop pairs with a side outside [min_len, max_len]
    whitespace tokens, and drop exact duplicate pairs keeping the first. Alignments stay in sync."""
    if min_len < 0 or max_len < min_len:
        raise ValueError(f"need 0 <= min_len <= max_len, got min_len={min_len}, max_len={max_len}")
    src_out: list[str] = []
    tgt_out: list[str] = []
    kept_idx: list[int] = []
    seen: set[tuple[str, str]] = set()
    too_short = too_long = dups = 0
    for i, (raw_s, raw_t) in enumerate(zip(corpus.src, corpus.tgt, strict=True)):
        s, t = normalize(raw_s), normalize(raw_t)
        ls = s.count(" ") + 1 if s else 0  # normalised text has single spaces between tokens
        lt = t.count(" ") + 1 if t else 0
        if ls < min_len or lt < min_len:
            too_short += 1
            continue
        if ls > max_len or lt > max_len:
            too_long += 1
            continue
        if dedupe:
            key = (s, t)
            if key in seen:
                dups += 1
                continue
            seen.add(key)
        src_out.append(s)
        tgt_out.append(t)
        kept_idx.append(i)
    report = CleanReport(len(corpus), too_short, too_long, dups, len(src_out), min_len, max_len)
    if not src_out:
        raise CorpusError(f"empty corpus after cleaning: {len(corpus)} pairs in, {too_short} too short "
                          f"(< {min_len} tokens), {too_long} too long (> {max_len} tokens), "
                          f"{dups} duplicates")
    align = None if corpus.align is None else [corpus.align[i] for i in kept_idx]
    return ParallelCorpus(src_out, tgt_out, align), report
