"""A student without a browser: one Streamlit session driven over its own websocket protocol.

Why: 30 headless Chromium tabs on the studio's own 2 cores measure Chromium, not the server (a class's browsers
run on the students' laptops). This client speaks what the browser speaks to the server: it opens
``/_stcore/stream``, asks for a page (``BackMsg.rerun_script``), reads the elements the script sends
(``ForwardMsg.delta``), finds the sentence box's widget id and sends a new value for it, as typing a sentence
and pressing Ctrl+Enter does. Used by ``scripts/class_load.py``; loopback only.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect

SENTENCE_LABEL = "Sentence to translate"


@dataclass
class Run:
    """What one script run sent: seconds until ``wanted`` text appeared in a code block (the translation) and
    until the script finished, and any exception the page showed."""

    shown_s: float | None = None
    finished_s: float | None = None
    codes: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)


class Student:
    """One session of the studio at ``url`` (http://127.0.0.1:PORT), on page ``page`` (its URL name)."""

    def __init__(self, url: str, page: str):
        self.ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
        self.page, self.page_hash, self.sentence_id = page, "", None
        self.ws = None

    async def open(self, timeout: float = 300) -> Run:
        """Connect and run the page once (what a browser's first load asks of the server)."""
        self.ws = await connect(self.ws_url, subprotocols=["streamlit"], max_size=2**27, open_timeout=timeout)
        return await self._rerun(None, None, timeout)

    async def type_sentence(self, sentence: str, wanted: str | None, timeout: float = 300) -> Run:
        """Send ``sentence`` as the sentence box's value; time until ``wanted`` is shown and the run ends."""
        if self.sentence_id is None:
            raise RuntimeError(f"no '{SENTENCE_LABEL}' box on page {self.page!r}")
        return await self._rerun(sentence, wanted, timeout)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def _rerun(self, sentence: str | None, wanted: str | None, timeout: float) -> Run:
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = ""
        state.page_name = self.page
        state.page_script_hash = self.page_hash
        if sentence is not None:
            widget = state.widget_states.widgets.add()
            widget.id, widget.string_value = self.sentence_id, sentence
        started, run = time.perf_counter(), Run()
        await self.ws.send(msg.SerializeToString())
        async with asyncio.timeout(timeout):
            while run.finished_s is None:
                self._read(ForwardMsg.FromString(await self.ws.recv()), run, wanted, started)
        return run

    def _read(self, fwd: ForwardMsg, run: Run, wanted: str | None, started: float) -> None:
        kind = fwd.WhichOneof("type")
        if kind == "navigation" and fwd.navigation.page_script_hash:  # the page this run showed: ask for it again
            self.page_hash = fwd.navigation.page_script_hash
        elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
            element = fwd.delta.new_element
            which = element.WhichOneof("type")
            if which == "text_area" and element.text_area.label == SENTENCE_LABEL:
                self.sentence_id = element.text_area.id
            elif which == "code":
                run.codes.append(element.code.code_text)
                if run.shown_s is None and wanted is not None and element.code.code_text.strip() == wanted:
                    run.shown_s = time.perf_counter() - started
            elif which == "exception":
                run.exceptions.append(f"{element.exception.type}: {element.exception.message}"[:200])
        elif kind == "script_finished" and fwd.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            run.finished_s = time.perf_counter() - started
