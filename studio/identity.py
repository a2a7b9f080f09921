"""Who is asking: the server mode, and a stable id for the browser that started a run.

Why: a classroom shares one server, and any student could stop anyone's training. In ``classroom`` mode (env
``NMT_STUDIO_MODE=classroom``) a run belongs to the browser that started it: others can watch it but not stop,
kill or resume it, and each browser may run ``NMT_STUDIO_MAX_TRAININGS_PER_USER`` trainings at once (default 1).
The default, ``single-user`` (``make app`` on a laptop), keeps every button for everyone.

The id is a hash of the token in Streamlit's XSRF cookie, which a browser keeps across page reloads (so a refresh
does not orphan a run); without it (XSRF protection off, or AppTest), the session id, which lasts until the tab closes.
Only the hash is stored, in the run folder's ``owner`` file.
"""

from __future__ import annotations

import hashlib
import os

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from nmt_core.runs import RunInfo

MODES = ("single-user", "classroom")


def mode() -> str:
    """``single-user`` (default) or ``classroom``; an unknown value means the safer ``classroom``."""
    value = os.environ.get("NMT_STUDIO_MODE", "single-user").strip().lower()
    return value if value in MODES else "classroom"


def per_user_limit() -> int | None:
    """Trainings one browser may run at once (classroom mode only)."""
    if mode() != "classroom":
        return None
    try:
        return max(1, int(os.environ.get("NMT_STUDIO_MAX_TRAININGS_PER_USER", "1")))
    except ValueError:
        return 1


def owner_id() -> str:
    """A stable, anonymous id for this browser (see the module docstring)."""
    token = None
    try:
        cookie = st.context.cookies.get("_streamlit_xsrf")
        # The cookie's value is re-masked on every page load; the token under the mask is what stays.
        from streamlit.web.server.starlette.starlette_app_utils import decode_xsrf_token_string

        raw = decode_xsrf_token_string(cookie)[0] if cookie else None
        token = raw.hex() if raw else None
    except Exception:  # outside a running server (bare mode) there are no cookies; an older Streamlit: no helper
        token = None
    if not token:
        ctx = get_script_run_ctx()
        token = ctx.session_id if ctx is not None else "local"
    return hashlib.sha256(f"nmt-studio:{token}".encode()).hexdigest()[:24]


def may_control(run: RunInfo) -> bool:
    """Whether this browser may stop, kill or resume ``run``."""
    return mode() == "single-user" or run.owner == owner_id()
