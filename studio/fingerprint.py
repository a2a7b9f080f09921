"""Content fingerprints: the key under which ``downloads.chart`` keeps one chart spec for every session of a server.

Why by content: a class types the same example sentences, so two sessions hold equal results in different objects;
keying on their contents lets the second student reuse the first one's chart. Why so strict: a collision would show
one student another's chart, so inputs that draw different charts must never share a fingerprint
(tests/test_fingerprint.py), and what cannot be read by content is refused rather than keyed by its address.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import numpy as np
import pandas as pd


def fingerprint(value: Any) -> str:
    """A digest of ``value``'s contents: arrays and tables by their values, dtypes and labels, dataclasses by their
    fields, containers item by item with their lengths. Two inputs with the same fingerprint draw the same chart,
    whichever model or session made them. A value it cannot read by content raises TypeError (``chart`` then
    builds the chart uncached): an object's address must never stand in for its content."""
    digest = hashlib.blake2b(digest_size=16)
    _feed(digest, value)
    return digest.hexdigest()


_SCALARS = (int, float, complex, str, bytes, bool, type(None), np.generic)


def _feed(digest: Any, v: Any) -> None:
    put = lambda text: digest.update(text.encode("utf-8", "surrogatepass"))  # noqa: E731
    if hasattr(v, "detach") and hasattr(v, "numpy"):  # a torch tensor: its values, never its shortened repr
        v = v.detach().cpu().numpy()
    if isinstance(v, _SCALARS):
        put(f"<{type(v).__name__}:{v!r}>")
    elif isinstance(v, np.ndarray):
        put(f"<a{v.dtype}{v.shape}>")
        if v.dtype.hasobject and not _feed_strings(digest, v.ravel()):
            for item in v.ravel().tolist():
                _feed(digest, item)
        elif not v.dtype.hasobject:
            digest.update(np.ascontiguousarray(v).tobytes())
    elif isinstance(v, pd.DataFrame):
        put(f"<f{v.shape}>")
        _feed(digest, v.index)
        for name in v.columns:
            _feed(digest, name)
            _feed(digest, v[name])
    elif isinstance(v, pd.Series | pd.Index):
        put(f"<{type(v).__name__}{len(v)}:{v.dtype}:{v.name!r}>")
        if isinstance(v.dtype, pd.CategoricalDtype):
            _feed(digest, list(v.dtype.categories))
            put(f"<ordered {v.dtype.ordered}>")
            _feed(digest, np.asarray(v.cat.codes if isinstance(v, pd.Series) else v.codes))
        else:
            _feed(digest, v.to_numpy(dtype=object) if v.dtype == object else v.to_numpy())
    elif dataclasses.is_dataclass(v) and not isinstance(v, type):
        put(f"<{type(v).__qualname__}>")
        for field in dataclasses.fields(v):
            _feed(digest, getattr(v, field.name))
    elif isinstance(v, dict):
        put(f"<d{len(v)}>")
        for k in sorted(v, key=repr):
            _feed(digest, k)
            _feed(digest, v[k])
    elif isinstance(v, list | tuple | set | frozenset):
        put(f"<{type(v).__name__}{len(v)}>")
        for item in (sorted(v, key=repr) if isinstance(v, set | frozenset) else v):
            _feed(digest, item)
    else:
        raise TypeError(f"no content fingerprint for {type(v).__name__}")


def _feed_strings(digest: Any, items: np.ndarray) -> bool:
    """An object array that holds only strings and missing values (a table's text columns: a lab's 200
    sentences), fed as two 64-bit hashes per item (pandas' vectorised ``hash_array`` under two keys) and the kind of
    each missing value (None, NaN, pd.NA), instead of item by item in Python, which was 7% of a Translate rerun.
    False, feeding nothing, for anything else (other types, unencodable text)."""
    if pd.api.types.infer_dtype(items, skipna=True) != "string":
        return False
    missing = pd.isna(items)
    text = np.where(missing, "", items)
    try:
        hashes = [pd.util.hash_array(text, hash_key=key, categorize=False) for key in _STRING_KEYS]
    except UnicodeEncodeError:  # a lone surrogate: the item-by-item path encodes it
        return False
    digest.update(b"<strings>")
    digest.update(np.packbits(missing).tobytes())
    put = repr([type(v).__name__ for v in items[missing]])  # only the missing ones: few, and told apart
    digest.update(put.encode("utf-8"))
    for h in hashes:
        digest.update(h.tobytes())
    return True


_STRING_KEYS = ("nmt-studio-key-1", "nmt-studio-key-2")  # 16 characters each, as hash_array requires
