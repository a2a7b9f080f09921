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
        _forget_when_changed(key, follows, default)
    clearable = widget.__name__ in ("segmented_control", "pills") and not kwargs.get("required")
    if locked():
        value, notice = link_value(key, default, clearable=clearable, **kwargs)
        _warn(label, notice)
        return keep(key, value)
    corrected = st.session_state.setdefault("_link_corrected", set())
    if key in st.query_params and key not in st.session_state:  # a link's value, before its widget exists
        value, notice = link_value(key, default, clearable=clearable, **kwargs)
        st.session_state[key] = value  # read as locked mode reads it; the widget would drop what it cannot parse
        _warn(label, notice)
        corrected.add(key)
    elif key in corrected and key in st.session_state:
        # Streamlit writes a value set from code into the address only once its widget has been seen, so a value
        # the link gave in another form, or one brought inside the bounds, reaches the address on the run after
        # the link's (the student's first click); a value already in the address as the widget writes it stays.
        st.session_state[key] = st.session_state[key]
        corrected.discard(key)
    lo, hi, old = kwargs.get("min_value"), kwargs.get("max_value"), st.session_state.get(key)
    if isinstance(old, int | float) and lo is not None and hi is not None and not lo <= old <= hi:
        st.session_state[key] = min(max(old, lo), hi)  # e.g. n-best after the beam got narrower
    if options is not None and key in st.session_state and not _valid_choice(st.session_state[key], options):
        del st.session_state[key]
    # Always the page's default, also when Session State holds the value (which then wins): Streamlit compares a
    # bound widget's value with the default it was given and leaves a value equal to it out of the address, so
    # without it ``?beam_size=1`` (the slider's minimum, not the page's default 5) vanished from a shared link.
    # The duplication warning this would print is off in .streamlit/config.toml.
    arg = _DEFAULT_ARG[widget.__name__]
    if arg != "index" or default in list(options):
        kwargs[arg] = list(options).index(default) if arg == "index" else default
    return keep(key, widget(label, key=key, bind="query-params", **kwargs))


def link_value(key: str, default: Any, *, clearable: bool = False, **kwargs: Any) -> tuple[Any, str | None]:
    """The value a link gives ``key``, read like ``default`` and brought inside the widget's bounds, and a notice
    when the link's text could not be read or had to change (else None). Why in both modes: in locked mode no
    widget stands between the link and the core, and otherwise Streamlit's URL-bound widget would silently drop
    such a value (``?beam_size=99999`` became the default and left the address). ``clearable``: the widget may
    hold no choice, which a link writes as an empty value."""
    options, format_func = kwargs.get("options"), kwargs.get("format_func", str)
    if clearable and st.query_params.get(key) == "":
        return None, None
    value, unread = _read_link(key, default, options, format_func)
    value, notice = within_bounds(key, value, default, **kwargs)
    if notice is None and unread:
        what = "one of the choices" if options is not None else "a value here"
        notice = f"{', '.join(map(repr, unread))} {'is' if len(unread) == 1 else 'are'} not {what}; using {value!r}"
    return value, notice


def _warn(label: str, notice: str | None) -> None:
    if notice:
        st.warning(f"The link's {label.lower()}: {notice}", icon=":material/tune:")


def _forget_when_changed(key: str, identity: Any, default: Any) -> None:
    """Put ``key`` back to ``default`` (the widget, and with it its URL copy; the value carried across pages) when
    ``identity`` is not the one it was chosen for. Through Session State, not by deleting the query parameter:
    Streamlit refuses to delete a parameter bound to a widget (a link's ``rank`` crashed the page once its
    sentence changed), and updates the address itself from the widget's new value."""
    marker = f"_follows_{key}"
    previous = st.session_state.get(marker)
    st.session_state[marker] = identity
    if previous is not None and previous != identity:
        st.session_state[key] = default
        st.session_state.get("_kept", {}).pop(key, None)


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
    return _read_link(key, default, options, format_func)[0]


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _read_link(key: str, default: Any, options: Iterable[Any] | None,
               format_func: Callable[[Any], Any]) -> tuple[Any, list[str]]:
    """``query_value``'s answer and the link's texts it could not read (in their place: the default, or, for
    several values, nothing), so that ``link_value`` can name them."""
    raw = st.query_params.get(key)
    if raw is None:  # e.g. after a page switch in a locked session: the value the link gave
        return st.session_state.get("_kept", {}).get(key, default), []
    forms = None if options is None else [(o, {str(o), str(format_func(o))}) for o in options]
    if isinstance(default, list):
        wanted = st.query_params.get_all(key)
        if forms is None:
            return wanted, []
        unread = [w for w in wanted if all(w not in texts for _, texts in forms)]
        return [o for o, texts in forms if texts & set(wanted)], unread
    if forms is not None:
        return next(((o, []) for o, texts in forms if raw in texts), (default, [raw]))
    if isinstance(default, bool):
        return raw.lower() in _TRUE, ([] if raw.lower() in _TRUE + _FALSE else [raw])
    try:
        if isinstance(default, int):
            return int(float(raw)), []
        if isinstance(default, float):
            number = float(raw)
            return (number, []) if number == number else (default, [raw])
    except (ValueError, OverflowError):  # "abc", "1e999" as an int: the default, never a traceback
        return default, [raw]
    return raw, []
