"""``studio.fingerprint.fingerprint``: the key of a chart spec shared by every session of a server. Inputs that draw
different charts must get different fingerprints (each case below once collided in a simpler version); inputs that
draw the same chart the same one; what it cannot read by content is refused, never keyed by its address."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch

from studio.fingerprint import fingerprint


@dataclass
class Result:
    weights: np.ndarray
    pieces: tuple[str, ...]


def test_equal_contents_give_equal_fingerprints():
    a = Result(np.arange(6, dtype=np.float32).reshape(2, 3), ("a", "b"))
    b = Result(np.arange(6, dtype=np.float32).reshape(2, 3), ("a", "b"))
    assert fingerprint((a, {"x": 1})) == fingerprint((b, {"x": 1}))
    assert fingerprint(pd.DataFrame({"x": [1, 2]})) == fingerprint(pd.DataFrame({"x": [1, 2]}))


@pytest.mark.parametrize("left, right", [
    ({"a": {"b": 1}, "c": 2}, {"a": {"b": 1, "c": 2}}),  # nesting needs lengths
    ([[1], 2], [[1, 2]]),
    (np.array(["pfoo"], dtype=object), np.array(["pbar"], dtype=object)),  # object arrays by value
    (pd.Series(range(1000)), pd.Series([*range(500), -1, *range(501, 1000)])),  # not by a shortened repr
    (pd.DataFrame({"x": [True, False]}), pd.DataFrame({"x": [1, 0]})),  # dtype
    (pd.DataFrame({"x": ["1"]}), pd.DataFrame({"x": [1]})),
    (pd.DataFrame({"x": pd.Categorical(["a", "b"], categories=["a", "b"])}),
     pd.DataFrame({"x": pd.Categorical(["a", "b"], categories=["b", "a"])})),  # category order sorts a chart
    (pd.DataFrame({"x": [1.0]}, index=pd.Index([0], name="i")), pd.DataFrame({"x": [1.0]}, index=pd.Index([0]))),
    (np.zeros((2, 3)), np.zeros((3, 2))),
    (np.zeros(2, dtype=np.float32), np.zeros(2, dtype=np.float64)),
    (torch.arange(2000.0), torch.cat([torch.arange(1000.0), torch.tensor([-1.0]), torch.arange(1001.0, 2000.0)])),
    (1, 1.0), (None, "None"), (("a",), ["a"]),
    (pd.DataFrame({"x": ["ab", "c"]}), pd.DataFrame({"x": ["a", "bc"]})),  # text columns: item by item
    (np.array(["1", "1"], dtype=object), np.array(["1", 1], dtype=object)),  # mixed types
    (np.array(["a", None], dtype=object), np.array(["a", np.nan], dtype=object)),  # kinds of missing
    (np.array(["a", None], dtype=object), np.array(["a", pd.NA], dtype=object)),
    (pd.DataFrame({"x": ["a", None]}), pd.DataFrame({"x": ["a", "None"]})),
    (pd.DataFrame({"x": ["a", None]}), pd.DataFrame({"x": ["a", ""]})),  # missing is not empty
    (pd.DataFrame({"x": [None, "a"]}), pd.DataFrame({"x": ["a", None]})),
    (np.array(["x\ud800"], dtype=object), np.array(["x\ud801"], dtype=object)),  # unencodable text
])
def test_different_contents_give_different_fingerprints(left, right):
    assert fingerprint(left) != fingerprint(right)


def test_text_columns_key_by_content_not_by_object():
    words = [f"word {i}" for i in range(500)]
    fresh = ["".join(["word ", str(i)]) for i in range(500)]  # equal strings, other objects
    assert all(a == b and a is not b for a, b in zip(words, fresh))
    assert fingerprint(pd.DataFrame({"src": words})) == fingerprint(pd.DataFrame({"src": fresh}))
    assert fingerprint(np.array(words, dtype=object)) == fingerprint(np.array(fresh, dtype=object))
    changed = [*words[:250], "word 250!", *words[251:]]
    assert fingerprint(pd.DataFrame({"src": words})) != fingerprint(pd.DataFrame({"src": changed}))


def test_an_object_without_readable_content_is_refused():
    class Opaque:
        pass

    with pytest.raises(TypeError, match="Opaque"):
        fingerprint((1, Opaque()))
