"""The view lives in the address: controls bound to URL query parameters, locked mode, and the choices a
user carries from one page to the next.

A link such as ``/Translate?s=the+red+car&beam_size=2`` reproduces a view; ``&locked=1`` turns it into a fixed
exercise (no controls drawn, values from the link). Streamlit drops bound query parameters when the user
switches pages, so every control also records its value in the session (``keep``) and a page seen for the
first time since the switch starts from those values (``carry_choices_over``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import streamlit as st

T = TypeVar("T")

#: The keyword that sets each widget's initial value (a default next to a Session State value makes Streamlit
#: warn, so it is passed only while the key has no value yet).
_DEFAULT_ARG = {"slider": "value", "number_input": "value", "text_input": "value", "text_area": "value",
                "checkbox": "value", "toggle": "value", "selectbox": "index", "radio": "index",
                "segmented_control": "default", "pills": "default", "select_slider": "value",
                "multiselect": "default"}


def locked() -> bool:
    """``?locked=1`` hides the controls for a locked-down exercise (sticky for the session)."""
    if st.query_params.get("locked") in ("1", "true", "yes"):
        st.session_state["_locked"] = True
    return bool(st.session_state.get("_locked"))


def projector() -> bool:
    """Projector mode (``?projector=1`` or the sidebar toggle): charts, their text and in-cell numbers enlarged so
    a 1280x720 projector image reads from the back of a room (``studio.downloads.projected``)."""
    if st.query_params.get("projector") in ("1", "true", "yes"):
        st.session_state["_projector"] = True
    return bool(st.session_state.get("projector", st.session_state.get("_projector", False)))


def keep(key: str, value: T) -> T:
    """Record a URL-bound choice so the next page starts from it; returns ``value``."""
    st.session_state.setdefault("_kept", {})[key] = value
    return value


def carry_choices_over(title: str) -> None:
    """Keep the sentence, the model and the other URL-bound choices when the user moves to another page: a page
    seen for the first time since the switch starts from the kept values (a shared link's own values win)."""
    if st.session_state.get("_page") == title:
        return
    st.session_state["_page"] = title
    for key, value in st.session_state.get("_kept", {}).items():
        if key not in st.query_params:
            st.session_state[key] = value


def control(widget: Callable[..., Any], label: str, key: str, default: Any, *, follows: Any = None,
            **kwargs: Any) -> Any:
    """``widget(label, ...)`` bound to the query parameter ``key``, so the address reproduces the view.
    In locked mode nothing is drawn and the value comes from the URL (or ``default``).

    ``follows``: what the choice belongs to (the sentence, the model, the search): when it changes, the widget
    starts again from ``default``, so no view keeps a choice (or its label) from an earlier input."""
    options = kwargs.get("options")
    if follows is not None:
        _forget_when_changed(key, follows)
    if locked():
        return keep(key, link_value(key, label, default, **kwargs))
    if key in st.query_params and key not in st.session_state:  # a link's value, before its widget exists
        value = link_value(key, label, default, **kwargs)
        if value is not _AS_GIVEN:  # the widget starts from the value the link was brought to, not its default
            st.session_state[key] = value
    lo, hi, old = kwargs.get("min_value"), kwargs.get("max_value"), st.session_state.get(key)
    if isinstance(old, int | float) and lo is not None and hi is not None and not lo <= old <= hi:
        st.session_state[key] = min(max(old, lo), hi)  # e.g. n-best after the beam got narrower
    if options is not None and key in st.session_state and not _valid_choice(st.session_state[key], options):
        del st.session_state[key]
    if key not in st.session_state:
        arg = _DEFAULT_ARG[widget.__name__]
        kwargs[arg] = list(options).index(default) if arg == "index" else default
    return keep(key, widget(label, key=key, bind="query-params", **kwargs))


_AS_GIVEN = object()  # ``link_value``'s answer when the link's value needs no change


def link_value(key: str, label: str, default: Any, **kwargs: Any) -> Any:
    """The value a link gives ``key``, read like ``default`` and brought inside the widget's bounds, with a one-line
    warning on the page when the link's text could not be read or had to change: Streamlit's URL-bound widgets
    would silently drop such a value (``?beam_size=99999`` became the default and left the address). In locked
    mode this is the only check; otherwise it returns ``_AS_GIVEN`` when the widget may read the link itself."""
    options, format_func = kwargs.get("options"), kwargs.get("format_func", str)
    value = query_value(key, default, options, format_func)
    value, notice = within_bounds(key, value, default, **kwargs)
    raw = st.query_params.get(key)
    if notice is None and raw is not None and not _readable(raw, default, options, format_func):
        notice = (f"{raw!r} is not one of the choices" if options is not None else f"{raw!r} is not a value here") \
            + f"; using {value!r}"
    if notice:
        st.warning(f"The link's {label.lower()}: {notice}", icon=":material/tune:")
        return value
    return value if locked() else _AS_GIVEN


def _readable(raw: str, default: Any, options: Iterable[Any] | None, format_func: Callable[[Any], Any]) -> bool:
    """Whether ``query_value`` understood ``raw`` (it falls back to the default when it does not)."""
    if isinstance(default, list):
        return True  # several values: those that match are kept, as the widget itself would
    if options is not None:
        return any(raw in (str(o), str(format_func(o))) for o in options)
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off")
    if isinstance(default, int | float):
        try:
            number = float(raw)
            return number == number and (isinstance(default, float) or abs(number) != float("inf"))
        except ValueError:
            return False
    return True


def _forget_when_changed(key: str, identity: Any) -> None:
    """Drop ``key``'s value (widget, URL-bound copy and the value carried across pages) when ``identity`` is not
    the one it was chosen for."""
    marker = f"_follows_{key}"
    previous = st.session_state.get(marker)
    st.session_state[marker] = identity
    if previous is not None and previous != identity:
        st.session_state.pop(key, None)
        st.session_state.get("_kept", {}).pop(key, None)
        if key in st.query_params:
            del st.query_params[key]


def within_bounds(key: str, value: Any, default: Any, **kwargs: Any) -> tuple[Any, str | None]:
    """A value from a link brought inside the bounds its widget would enforce (``min_value``/``max_value``,
    ``max_chars``, ``options``), with a notice saying what changed. Links are never trusted: in locked mode no
    widget stands between the URL and the core, so this is the only check (``?beam_size=1500`` once held the
    server for 44 s)."""
    lo, hi, options, chars = kwargs.get("min_value"), kwargs.get("max_value"), kwargs.get("options"), \
        kwargs.get("max_chars")
    if isinstance(value, bool) or isinstance(default, bool):
        return value, None
    if isinstance(value, int | float) and (lo is not None or hi is not None):
        fixed = min(max(value, lo if lo is not None else value), hi if hi is not None else value)
        fixed = type(default)(fixed) if isinstance(default, int | float) else fixed
        if fixed != value or fixed != fixed:  # out of range, or NaN
            fixed = default if fixed != fixed else fixed
            return fixed, f"{value!r} is outside {lo}..{hi}; using {fixed}"
    if isinstance(value, str) and chars is not None and len(value) > chars:
        return value[:chars], f"{len(value):,} characters, cut to the first {chars:,}"
    if options is not None and not isinstance(value, list) and value not in list(options):
        return default, f"{value!r} is not one of the choices; using {default!r}"
    return value, None


def _valid_choice(value: Any, options: Iterable[Any]) -> bool:
    choices = list(options)
    return all(v in choices for v in value) if isinstance(value, list) else value in choices


def query_value(key: str, default: Any, options: Iterable[Any] | None = None,
                format_func: Callable[[Any], Any] = str) -> Any:
    """The URL's value for ``key``, parsed like ``default`` (or the option whose ``str`` or ``format_func``
    form it is: URL-bound widgets write the formatted option); else ``default``."""
    raw = st.query_params.get(key)
    if raw is None:  # e.g. after a page switch in a locked session: the value the link gave
        return st.session_state.get("_kept", {}).get(key, default)
    if isinstance(default, list):
        wanted = st.query_params.get_all(key)
        return [o for o in (options or wanted) if str(o) in wanted or str(format_func(o)) in wanted]
    if options is not None:
        return next((o for o in options if raw in (str(o), str(format_func(o)))), default)
    try:
        if isinstance(default, bool):
            return raw.lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(float(raw))
        if isinstance(default, float):
            return float(raw)
    except (ValueError, OverflowError):  # "abc", "1e999" as an int: the default, never a traceback
        return default
    return raw
