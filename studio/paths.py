"""Where the studio finds things on disk, and the limits a server sets through the environment.

Read from the environment so that one checkout can serve several setups; the tests point every folder at a
temporary one. ``NMT_STUDIO_CHECKPOINTS`` (shipped models), ``NMT_STUDIO_RUNS`` (trainings started here),
``NMT_STUDIO_MAX_UPLOAD_MB`` (largest corpus upload).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Largest corpus upload in MB. Read once at start-up, like Streamlit's own upload limit.
MAX_UPLOAD_MB = float(os.environ.get("NMT_STUDIO_MAX_UPLOAD_MB", "50"))


def _folder(variable: str, default: str) -> Path:
    """A folder named by an environment variable, relative to the project unless absolute. Read on every
    call, not at import, so a test (or a server) can change it without reloading the app."""
    root = Path(os.environ.get(variable, default))
    return root if root.is_absolute() else ROOT / root


def runs_root() -> Path:
    """Where trainings started from the studio live (env NMT_STUDIO_RUNS, default runs/)."""
    return _folder("NMT_STUDIO_RUNS", "runs")


def checkpoints_dir() -> Path:
    """The shipped models (env NMT_STUDIO_CHECKPOINTS, default checkpoints/)."""
    return _folder("NMT_STUDIO_CHECKPOINTS", "checkpoints")


def display_path(path: Path | str) -> str:
    """A path relative to the project when it is inside it, so captions do not leak the server's layout."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
