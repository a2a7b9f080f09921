"""A checkpoint of your own, uploaded on the Home page and usable on every page for this session.

Why it is safe to accept one from a stranger: the file's size is checked before a byte is read (and the server
refuses anything over ``server.maxUploadSize`` while streaming), it is saved under a name the app chooses, and it is
loaded by the core exactly like a local checkpoint: ``torch.load(weights_only=True)`` (no code runs), the config's
bounds and every weight's shape checked before any tensor is allocated. A file that fails gets its one-line reason
and is deleted; nothing else changes.
"""

from __future__ import annotations

import re

import streamlit as st

from studio import identity, models, paths
from studio.display import escape_md
from studio.uploads import Upload

#: The largest checkpoint accepted (the shipped ones are 2.5-7.2 MB); the server's own cap is 50 MB.
MAX_CHECKPOINT_MB = 20.0


def upload_panel() -> None:
    """The uploader and what became of the last file."""
    upload = st.file_uploader("Use your own checkpoint (.pt, made by `python -m nmt_core train` or `export`)",
                              key="ckpt_upload", max_upload_size=max(1, int(MAX_CHECKPOINT_MB)))
    # No ``type=["pt"]``: Streamlit would raise on any other name instead of letting the page say why (accept)
    if upload is None:
        return
    ident = (upload.name, upload.size, getattr(upload, "file_id", None))
    if st.session_state.get("_ckpt_upload_seen") != ident:  # each file once: the sidebar is drawn before this
        st.session_state["_ckpt_upload_seen"] = ident
        st.session_state["_ckpt_upload_result"] = accept(upload)
        if st.session_state["_ckpt_upload_result"][1] is None:
            st.rerun()  # redraw the sidebar's model picker with the new model in it
    key, problem = st.session_state["_ckpt_upload_result"]
    if problem:
        st.error(f"This file cannot be used: {escape_md(problem)}")
    else:
        st.success(f"Added **{escape_md(key)}** to the model picker (for this browser session).")


def accept(upload: Upload) -> tuple[str, str | None]:
    """Check, save and validate ``upload``; returns (its key in the model picker, the reason it was refused)."""
    if not upload.name.lower().endswith(".pt"):
        return "", f"{upload.name}: must be a .pt file"
    if upload.size > MAX_CHECKPOINT_MB * 1024 * 1024:
        return "", f"{upload.name}: {upload.size / 1e6:.1f} MB is over the {MAX_CHECKPOINT_MB:g} MB limit"
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", upload.name[:-3])[:60].strip("._") or "model"
    folder = paths.runs_root() / "_uploads" / identity.owner_id()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{stem}.pt"
    with open(target, "wb") as out:
        upload.seek(0)
        while chunk := upload.read(1 << 20):
            out.write(chunk)
    stat = target.stat()
    reason = models.problem(str(target), stat.st_mtime, stat.st_size)
    if reason is not None:
        target.unlink(missing_ok=True)
        return "", reason.replace(str(target), upload.name)
    key = f"{stem} (uploaded)"
    st.session_state.setdefault(models.UPLOADED, {})[key] = str(target)
    return key, None
