"""Values at and past the edges of the service's query parameters and path ids, as hypothesis strategies.

Drawn by the properties of ``tests.api.test_param_properties`` and mixed into schemathesis's schema-valid cases
(``tests.api.test_schemathesis``): other scripts' digits (which ``str.isdigit`` and ``int`` take), superscripts,
signs, spaces, numbers of thousands of digits, the first and last days of the calendar and either side of the
service's bounds, dates in the other forms ``date.fromisoformat`` takes. ``valid_*`` say, independently of the
service's code, which of them it must answer.
"""

from __future__ import annotations

import datetime as dt
import re
import string

from hypothesis import strategies as st

FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(9998, 12, 31)
BOUNDS = {"after": (0, 2**62), "limit": (1, 1_000)}  # whole-number parameters: lowest and highest
DATE_PARAMETERS = ("from", "to")
# Per endpoint with a query, the parameters it takes.
QUERIES = {
    "/v1/register/summary": DATE_PARAMETERS,
    "/v1/register/entries": (*DATE_PARAMETERS, *BOUNDS),
}

SCRIPTS = ["٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "०१२३४५६७८९", "０１２３４５６７８９", "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗"]  # all int() and isdigit()
SPACES = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\u00a0", "\u2009", "\u3000", "\x00"]

odd_digits = st.text(st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=8)  # '²', '٣', 'Ⅻ'


def in_script(text: str, digits: str) -> str:
    return text.translate(str.maketrans(string.digits, digits))


def _replace_one(value: str, at: int, odd: str) -> str:
    at %= len(value) + 1
    return value[:at] + odd + value[at + 1 :]


def _spoiled(clean: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A value, then perhaps: its digits in another script, one digit replaced by an odd one, a sign in front,
    space around it."""
    return st.one_of(
        clean,
        st.builds(in_script, clean, st.sampled_from(SCRIPTS)),
        st.builds(_replace_one, clean, st.integers(0, 30), odd_digits),
        st.builds(lambda s, v: s + v, st.sampled_from(["+", "-", "−", "0x", "0b"]), clean),
        st.builds(lambda a, v, b: a + v + b, st.sampled_from(["", *SPACES]), clean, st.sampled_from(["", *SPACES])),
    )


_edge_days = [dt.date.min, dt.date.max, FIRST_DAY, LAST_DAY, FIRST_DAY - dt.timedelta(days=1)]
_edge_days += [LAST_DAY + dt.timedelta(days=1), dt.date(9999, 12, 30), dt.date(2026, 11, 22)]
days = st.one_of(st.sampled_from(_edge_days), st.dates())
day_texts = st.one_of(
    days.map(dt.date.isoformat),
    days.map(lambda d: d.strftime("%Y%m%d") if d.year >= 1000 else d.isoformat().replace("-", "")),
    days.map(lambda d: "{}-W{:02d}-{}".format(*d.isocalendar())),
    st.builds("{:04d}-{:02d}-{:02d}".format, st.integers(-99_999, 99_999), st.integers(0, 13), st.integers(0, 32)),
    st.sampled_from(["", "0000-00-00", "9999-12-31T23:59:59", "2026-11-22Z", "2026-1-1", "today"]),
)


def _number_texts(low: int, high: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from([low, high, low - 1, high + 1, 0, 2**63, 2**64]).map(str),
        st.integers(low - 10, high + 10).map(str),
        st.integers(1, 6_000).map(lambda n: "9" * n),  # past int()'s 4300 digits
        st.integers(1, 30).map(lambda n: "0" * n + "1"),
        st.sampled_from(["", "1.0", "1e3", "1_000", "١", "²", "³", "½", "Ⅻ", "nan", "inf"]),
    )


def values(name: str) -> st.SearchStrategy[str]:
    """What may be sent as query parameter ``name``."""
    clean = day_texts if name in DATE_PARAMETERS else _number_texts(*BOUNDS[name])
    return _spoiled(clean)


def queries(path: str) -> st.SearchStrategy[list[tuple[str, str]]]:
    """A query for ``path``: some of its parameters, each once or (now and then) twice."""
    names = QUERIES[path]
    pair = st.sampled_from(names).flatmap(lambda name: values(name).map(lambda value: (name, value)))
    return st.lists(pair, min_size=1, max_size=3)


_ASCII_DATE = re.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ASCII_DIGITS = re.compile("[0-9]+")


def valid_value(name: str, value: str) -> bool:
    """Whether the service must take ``value`` for ``name``: a calendar day from FIRST_DAY to LAST_DAY as
    YYYY-MM-DD in ASCII digits; a whole number within the bounds, in ASCII digits, no longer than the highest."""
    if name in DATE_PARAMETERS:
        if not _ASCII_DATE.fullmatch(value):
            return False
        try:
            return FIRST_DAY <= dt.date(int(value[:4]), int(value[5:7]), int(value[8:])) <= LAST_DAY
        except ValueError:
            return False
    low, high = BOUNDS[name]
    return bool(_ASCII_DIGITS.fullmatch(value)) and len(value) <= len(str(high)) and low <= int(value) <= high


def valid_query(query: list[tuple[str, str]]) -> bool:
    """Every parameter given once and valid, and ``from`` not after ``to``."""
    given = dict(query)
    if len(given) < len(query) or not all(valid_value(name, value) for name, value in query):
        return False
    return not ("from" in given and "to" in given and given["from"] > given["to"])


_TRACE_ID = re.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SOME_ID = "0b7e3f0c-3f55-4d1e-9d0c-2c8a3f9e1d44"
trace_ids = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    _spoiled(st.just(_SOME_ID)),
    st.builds(lambda n: _SOME_ID + "0" * n, st.integers(1, 5_000)),
    st.text(min_size=1, max_size=60).filter(lambda t: "/" not in t and t not in (".", "..")),
)


def valid_trace_id(value: str) -> bool:
    return bool(_TRACE_ID.fullmatch(value))
