"""dates: a date written one of many English ways -> ISO 8601 ("thursday , may 3 , 1979" -> "1979-05-03").

Why this task: the output is short and strictly determined, the input varies a lot in form, and a
character-level model learns it in minutes, so attention plots show clean jumps from "may" to "05".

Every rendering determines its date (the target is a function of the source):
  * numeric dates are always day first: "03 / 05 / 1979", "03 . 05 . 1979" (never month first);
  * two-digit years ("03 / 05 / 79") are only used for 1950-2049, read with a fixed pivot: 50-99 ->
    19xx, 00-49 -> 20xx;
  * weekdays are the true weekday of the date (``datetime.date.weekday``).
Sources are lowercase with punctuation as separate tokens; the target is one token, "YYYY-MM-DD".
"""

from __future__ import annotations

import datetime as dt
import random

from ..corpus import ParallelCorpus
from .base import TaskInfo, sample_unique

NAME = "dates"

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december")
MONTH_ABBR = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SHORT_YEAR_RANGE = (1950, 2049)  # the only years written with two digits (pivot 50)


def ordinal(day: int) -> str:
    """1 -> "1st", 2 -> "2nd", 11 -> "11th", 22 -> "22nd"."""
    if 11 <= day % 100 <= 13:
        return f"{day}th"
    return f"{day}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th') }"


def _short_year_ok(d: dt.date) -> bool:
    return SHORT_YEAR_RANGE[0] <= d.year <= SHORT_YEAR_RANGE[1]


# name -> renderer; every renderer is injective on dates (and "dd_mm_yy" is only used where it is).
FORMATS = {
    "d_of_month_y": lambda d: f"{ordinal(d.day)} of {MONTHS[d.month - 1]} {d.year}",
    "the_d_of_month_y": lambda d: f"the {ordinal(d.day)} of {MONTHS[d.month - 1]} {d.year}",
    "month_d_y": lambda d: f"{MONTHS[d.month - 1]} {d.day} , {d.year}",
    "month_dth_y": lambda d: f"{MONTHS[d.month - 1]} {ordinal(d.day)} , {d.year}",
    "d_month_y": lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    "d_mon_y": lambda d: f"{d.day} {MONTH_ABBR[d.month - 1]} {d.year}",
    "weekday_month_d_y": lambda d: f"{WEEKDAYS[d.weekday()]} , {MONTHS[d.month - 1]} {d.day} , {d.year}",
    "weekday_the_d_of_month_y": lambda d: (f"{WEEKDAYS[d.weekday()]} the {ordinal(d.day)} of "
                                           f"{MONTHS[d.month - 1]} {d.year}"),
    "dd_mm_yyyy": lambda d: f"{d.day:02d} / {d.month:02d} / {d.year}",
    "dd_mm_yy": lambda d: f"{d.day:02d} / {d.month:02d} / {d.year % 100:02d}",
    "dd.mm.yyyy": lambda d: f"{d.day:02d} . {d.month:02d} . {d.year}",
    "iso": lambda d: f"{d.year} - {d.month:02d} - {d.day:02d}",
}


def render(date: dt.date, fmt: str) -> str:
    """The English source for ``date`` in format ``fmt`` (a key of FORMATS)."""
    if fmt == "dd_mm_yy" and not _short_year_ok(date):
        raise ValueError(f"two-digit years are only used for {SHORT_YEAR_RANGE[0]}-{SHORT_YEAR_RANGE[1]}")
    return FORMATS[fmt](date)


def to_iso(date: dt.date) -> str:
    return date.isoformat()


EXAMPLES = [
    "3rd of may 1979",
    "thursday , may 3 , 1979",
    "03 / 05 / 79",
    "the 1st of january 2000",
    "december 25 , 1999",
    "14 jul 1989",
]

INFO = TaskInfo(
    name=NAME,
    description="Dates written many ways in English -> ISO 8601 (YYYY-MM-DD); day-first numeric forms, "
                "true weekdays.",
    source_lang="en",
    target_lang="iso-8601",
    examples=EXAMPLES,
    has_alignment=False,
    recommended_tokenizer="char",
    options={"start_year": 1900, "end_year": 2099},
)


def generate(size: int, seed: int, *, start_year: int = 1900, end_year: int = 2099) -> ParallelCorpus:
    """``size`` distinct (English date, ISO date) pairs, dates uniform over the years given."""
    if not 1 <= start_year <= end_year <= 9999:
        raise ValueError(f"need 1 <= start_year <= end_year <= 9999, got {start_year}, {end_year}")
    rng = random.Random(seed)
    first = dt.date(start_year, 1, 1).toordinal()
    last = dt.date(end_year, 12, 31).toordinal()
    names = list(FORMATS)

    def draw() -> tuple[str, str, None]:
        date = dt.date.fromordinal(rng.randint(first, last))
        fmt = rng.choice(names)
        while fmt == "dd_mm_yy" and not _short_year_ok(date):
            fmt = rng.choice(names)
        return render(date, fmt), to_iso(date), None

    return sample_unique(draw, size, with_alignment=False, what=NAME)
