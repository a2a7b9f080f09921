"""Files users upload (a corpus for training): size-checked and saved under a name the app chooses.

A user's file name never becomes a path: whatever it says (``../../x``, ``/etc/...``), the file lands in
``<run>/data/<fixed name>``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Protocol

from studio import paths


class Upload(Protocol):
    """What ``st.file_uploader`` hands the app: a binary file with a ``name`` and a ``size``."""

    name: str
    size: int

    def seek(self, offset: int, whence: int = 0) -> int: ...

    def read(self, size: int = -1) -> bytes: ...


def save_upload(upload: Upload, run_dir: Path, name: str) -> Path:
    """Save an uploaded file under ``run_dir/data/<name>`` after checking its size (never the user's file
    name, so nothing can escape the run folder). Raises ValueError when it is too big, before reading it."""
    limit = int(paths.MAX_UPLOAD_MB * 1024 * 1024)
    if upload.size > limit:
        raise ValueError(f"{upload.name}: {upload.size / 1e6:.1f} MB is over the {paths.MAX_UPLOAD_MB:g} MB limit")
    target = run_dir / "data" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        upload.seek(0)
        while chunk := upload.read(1 << 20):
            out.write(chunk)
    return target


def csv_columns(data: bytes) -> list[str]:
    """Header names of a CSV upload (first line only), for the column pickers."""
    first = data.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    return next(csv.reader(io.StringIO(first)), [])
