"""Start the studio with its heavy libraries already imported: ``python -m studio.serve [streamlit run flags]``.

Why: Streamlit imports a page's modules on the first page run, inside the first student's session, so the first
visitors of a fresh server waited for torch, pandas, Altair, vl-convert, sentencepiece and sacrebleu to load, and
for the meta device's first parameter initialisation to import ``torch._dynamo`` (the checkpoint check builds
each model there). Here the process imports them before it serves, and the pages find them in ``sys.modules``:
30 students opening a fresh studio at once waited a median 9.55-10.31 s for their first page with plain
``streamlit run app.py`` and 4.79-5.33 s with this (docs/benchmarks.md, "Classroom load").
Only libraries and ``nmt_core`` are imported, never a ``studio`` page helper: their Streamlit caches must be made
under the running server. `make app` and the container image start the studio this way.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app.py"


def preload() -> float:
    """Import what every page needs and run one parameter initialisation on the meta device; returns seconds."""
    started = time.perf_counter()
    import altair  # noqa: F401
    import pandas  # noqa: F401
    import sacrebleu  # noqa: F401
    import sentencepiece  # noqa: F401
    import torch
    import vl_convert  # noqa: F401

    import nmt_core.checkpoint  # noqa: F401
    import nmt_core.inspection  # noqa: F401
    import nmt_core.viz  # noqa: F401

    with torch.device("meta"):
        torch.nn.Embedding(2, 2)  # the meta device's first initialisation imports torch._dynamo (about 1.7 s)
    return time.perf_counter() - started


def main() -> None:
    seconds = preload()
    print(f"NMT Studio: libraries loaded in {seconds:.1f} s; starting the server", file=sys.stderr)
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(APP), *sys.argv[1:]]
    sys.exit(cli.main())


if __name__ == "__main__":
    main()
