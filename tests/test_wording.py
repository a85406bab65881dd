"""Numbers in sentences: every count, share and figure is written one way, and reads back."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carethread import privacy as pv
from carethread.wording import MISSING, about, day, decimals, format_count, is_missing, percent, plural, quarter


@given(st.integers(0, 10**15))
def test_a_count_reads_back_and_groups_thousands(n):
    text = format_count(n)
    assert int(text.replace(" ", "")) == n
    assert all(len(group) == 3 for group in text.split(" ")[1:])  # "1 234 567": groups of three after the first


@given(st.integers(0, 10**6), st.sampled_from(["row", "patient", "visit"]))
def test_a_small_count_in_a_sentence_is_what_privacy_redacts(n, noun):
    # redact_text must recognise every count wording writes, or a small count would slip into a shared report.
    sentence = f"{plural(n, noun)} were left out."
    redacted = pv.redact_text(sentence)
    assert redacted.startswith(pv.SMALL + " ") == pv.is_small(n), (sentence, redacted)


def test_plural_picks_the_noun_by_the_count():
    assert [plural(n, "row") for n in (0, 1, 2, 1000)] == ["0 rows", "1 row", "2 rows", "1 000 rows"]
    assert plural(2, "person", "people") == "2 people"


@given(st.floats(0.0, 1.0))
def test_a_share_keeps_two_significant_digits_below_ten_percent(share):
    text = percent(share)
    assert text.endswith(" %")
    p = share * 100
    value = float(text[:-2])
    if p >= 10 or p == 0:
        assert value == round(p) and "." not in text  # whole percent
    else:
        digits = 1 - math.floor(math.log10(p))  # two significant digits
        assert value == pytest.approx(round(p, digits), abs=10 ** -(digits + 1))


@given(st.floats(10, 1e9))
def test_a_figure_about_keeps_two_significant_digits(n):
    value = int(about(n).replace(" ", ""))
    magnitude = 10 ** (math.floor(math.log10(n)) - 1)
    assert value % magnitude == 0 and abs(value - n) <= magnitude / 2 + 1e-6 * n


def test_missing_values_are_a_dash_in_every_cell_writer():
    import pandas as pd

    for missing in (None, float("nan"), pd.NA, pd.NaT):
        assert is_missing(missing)
        assert about(missing) == percent(missing) == decimals(missing) == day(missing) == MISSING
    assert not is_missing(0) and not is_missing(0.0)
    assert (percent(0.0), decimals(0.0), about(0)) == ("0 %", "0.000", "0")


def test_dates_and_quarters():
    assert day(dt.date(2024, 3, 5)) == "5 Mar 2024"
    assert [quarter(dt.date(2024, m, 1)) for m in (1, 3, 4, 6, 7, 9, 10, 12)] == [
        "2024 Q1",
        "2024 Q1",
        "2024 Q2",
        "2024 Q2",
        "2024 Q3",
        "2024 Q3",
        "2024 Q4",
        "2024 Q4",
    ]
