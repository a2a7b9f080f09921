"""One lab on a page: the lecture's claim, what the stored results measured (a sentence generated from them),
their charts and tables with downloads, and a button that runs the lab again at a class budget.

The sentence under each claim comes from ``nmt_core.labs.claims.verdict``, computed from the tables shown: it says
"not reproduced" with the numbers when they do not support the claim, never the claim alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from nmt_core import viz
from nmt_core.labs.claims import verdict
from studio import downloads, labs
from studio.display import escape_md

#: How each verdict reads on screen; ``None`` is a table too small to judge.
VERDICT_MARKS = {True: "✅ supported", False: "❌ not reproduced here", None: "❔ cannot tell"}

#: Columns whose empty cells mean something, said where the table is shown (a bare "None" read as missing data).
COLUMN_HELP = {"solved_at": st.column_config.NumberColumn(
    "solved_at", help="The training step at which the lag reached 99% accuracy; empty: never, within the steps.")}

#: Each lab: what it does (the run button's help), its charts from its tables, and the table shown in full.
Charts = Callable[[dict[str, pd.DataFrame]], list[tuple[Any, pd.DataFrame, str]]]
CATALOGUE: dict[str, tuple[str, Charts, str]] = {
    "vanishing": ("rnn, gru, lstm and an lstm with an open forget gate recall a symbol 5 to 100 steps back.",
                  lambda t: [(viz.vanishing_accuracy_chart(t["accuracy"]), t["accuracy"], "vanishing-accuracy"),
                             (viz.vanishing_gradient_chart(t["gradients"]), t["gradients"], "vanishing-gradients")],
                  "accuracy"),
    "clipping": ("The same model at a high learning rate, with and without gradient clipping.",
                 lambda t: [(viz.clipping_chart(t["curves"]), t["curves"], "clipping-curves")], "summary"),
    "tbptt": ("An RNN and an LSTM learn delayed copies with truncation windows of several lengths.",
              lambda t: [(viz.tbptt_accuracy_chart(t["accuracy"]), t["accuracy"], "tbptt-accuracy"),
                         (viz.tbptt_gradient_chart(t["gradient"]), t["gradient"], "tbptt-gradient"),
                         (viz.tbptt_speed_chart(t["speed"]), t["speed"], "tbptt-speed")], "speed"),
    "bottleneck": ("The same model on the toy grammar, trained with and without attention.",
                   lambda t: [(viz.bottleneck_chart(t["bleu_by_length"]), t["bleu_by_length"], "bottleneck")],
                   "models"),
    "bottleneck-en-de": ("The shipped English-German models with and without attention on held-out sentences.",
                         lambda t: [(viz.bottleneck_chart(t["bleu_by_length"]), t["bleu_by_length"],
                                     "bottleneck-en-de")], "models"),
    "depth": ("1 and 2 layers, uni- and bidirectional encoders, under the same budget.",
              lambda t: [(viz.depth_chart(t["models"]), t["models"], "depth")], "models"),
    "greedy-vs-beam": ("A small model decodes dev sentences greedily and with beam search.",
                       lambda t: [(viz.greedy_vs_beam_chart(t["sentences"]), t["sentences"], "greedy-vs-beam")],
                       "summary"),
    "greedy-vs-beam-en-de": ("The shipped English-German model decodes held-out sentences both ways.",
                             lambda t: [(viz.greedy_vs_beam_chart(t["sentences"]), t["sentences"],
                                         "greedy-vs-beam-en-de")], "summary"),
}


def lab_section(name: str) -> None:
    """The claim, the measured verdict, the charts, the main table and the run button of lab ``name``."""
    lab_results(name)
    labs.lab_runner(name, CATALOGUE[name][0])


def lab_results(name: str, *, table: bool = True) -> None:
    """The claim of lab ``name``, the verdict its stored tables give, and their charts (and main table)."""
    _, charts, main = CATALOGUE[name]
    folder, tables = labs.lab_tables(name)
    judged = verdict(name, tables)
    st.markdown(f"**The claim.** {escape_md(judged.claim)}")
    if not tables:
        st.info("No stored results yet: run the lab below.")
    else:
        info = labs.lab_info(name, folder)
        mark = VERDICT_MARKS[judged.supported]
        where = "a run started here" if folder == labs.labs_dir() else f"stored, {info.get('budget', '?')} budget"
        st.markdown(f"**Measured** ({escape_md(where)}, {info.get('seconds', 0) / 60:.1f} min): "
                    f"{escape_md(judged.measured)} **{mark}**")
        try:
            for chart, data, file_name in charts(tables):
                downloads.chart_with_downloads(chart, data, file_name)
        except KeyError as err:
            st.warning(f"The stored tables lack {escape_md(err)}: run the lab again.")
        if table and main in tables:
            st.dataframe(tables[main], hide_index=True, column_config=COLUMN_HELP)
            downloads.frame_download(tables[main], f"{name}-{main}")
