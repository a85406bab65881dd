"""The public API: every measure exported, one grammar, deprecated names, notebook display."""

from __future__ import annotations

import datetime as dt
import inspect
import typing

import ibis
import pytest

import carethread
import carethread.measures
from carethread.errors import OptionError
from carethread.options import normalize_settings
from carethread.visits import default_as_of
from tests.conftest import encounters_table

MEASURES = ["attribute", "attribution_ranking", "panels", "dyads", "relationship_breaks", "who_needs_whom"]
SUMMARIES = ["continuity_summary", "attribution_summary", "panel_rollup"]

#: The shared options, in the order every measure lists those it takes, and their types.
SHARED = {
    "clinicians": "Clinicians",
    "settings": "Settings",
    "start": "DateLike",
    "end": "DateLike",
    "as_of": "DateLike",
}


def test_every_measure_is_exported_and_listed():
    names = ["patient_continuity", *MEASURES, *SUMMARIES]
    listed = dir(carethread)
    for name in names:
        assert name in listed and name in dir(carethread.measures)
        assert getattr(carethread, name) is getattr(carethread.measures, name)
    from carethread.measures.attribution import attribute
    from carethread.measures.breaks import relationship_breaks
    from carethread.measures.dependence import who_needs_whom

    assert carethread.attribute is attribute
    assert carethread.relationship_breaks is relationship_breaks
    assert carethread.who_needs_whom is who_needs_whom
    assert carethread.run_in_batches.__module__ == "carethread.batches"
    assert sorted(carethread._MEASURES) == carethread.measures.__all__
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        carethread.nothing  # noqa: B018


@pytest.mark.parametrize(
    "name", ["patient_continuity", "attribute", "attribution_ranking", "panels", "dyads", "relationship_breaks"]
)
def test_every_measure_has_one_grammar(name):
    """Encounters positional, every option keyword-only and annotated, shared options first
    and in one order, units in the names of durations."""
    params = list(inspect.signature(getattr(carethread, name)).parameters.values())
    assert params[0].name == "encounters" and params[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    options = params[1:]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in options)
    assert all(p.annotation is not inspect.Parameter.empty for p in [*params])
    shared = [p.name for p in options if p.name in SHARED]
    assert shared == [n for n in SHARED if n in shared]
    assert [p.name for p in options[: len(shared)]] == shared  # shared options come first
    for p in options:
        if p.name in SHARED:
            assert p.annotation == SHARED[p.name] and p.default is None, p.name
    assert not any(p.name in ("lookback", "period_months") for p in options)
    assert all(p.name.endswith(("_months", "_days")) for p in options if "lookback" in p.name or "after" in p.name)
    hints = typing.get_type_hints(getattr(carethread, name))
    assert hints["return"] is ibis.Table


def test_settings_are_read_like_the_setting_column():
    assert normalize_settings("Primary  Care") == ("primary_care",)
    assert normalize_settings(" urgent-care , VIRTUAL") == ("urgent_care", "virtual")
    assert normalize_settings(["Primary Care", "virtual"]) == ("primary_care", "virtual")
    with pytest.raises(OptionError, match="Unknown setting dentistry"):
        normalize_settings("dentistry")


def test_default_as_of_is_end_else_the_day_after_the_last_encounter(con):
    t = encounters_table(
        con,
        [
            {"patient_id": "p", "clinician_id": "A", "practice_id": "X", "setting": "emergency", "start": s}
            for s in (dt.datetime(2024, 3, 1, 23, 59), dt.datetime(2023, 1, 1))
        ],
    )
    assert default_as_of(t) == dt.datetime(2024, 3, 2)
    assert default_as_of(t, end=dt.date(2024, 1, 1)) == dt.datetime(2024, 1, 1)
    assert default_as_of(encounters_table(con, [], name="empty")) is None


def test_a_result_shows_a_preview_and_its_schema_in_a_notebook(con):
    t = encounters_table(
        con,
        [
            {"patient_id": "p", "clinician_id": "A", "practice_id": "X", "setting": "primary_care", "start": s}
            for s in (dt.datetime(2024, 3, 1, 9), dt.datetime(2024, 4, 1, 9))
        ],
    )
    result = carethread.patient_continuity(t)
    assert isinstance(result, ibis.Table)
    bundle = result._repr_mimebundle_(include=None, exclude=None)
    text = bundle["text/plain"]
    assert "usual_clinician_id" in text and "1.0" in text  # the preview: p's row, UPC 1
    assert "11 columns: patient_id string, n_visits int64" in text  # the schema, every column
    assert "DatabaseTable" not in text and "r0 :=" not in text  # not the query tree
    assert "<pre" in bundle["text/html"] and "usual_clinician_id" in bundle["text/html"]
    assert ibis.options.interactive is False  # the user's Ibis options are left alone
    assert "DatabaseTable" in repr(result)  # repr() stays Ibis' own
    derived = result.filter(result.n_visits > 0)
    assert "DatabaseTable" in derived._repr_mimebundle_(include=None, exclude=None)["text/plain"]


@pytest.mark.parametrize(
    "old, new, kwargs",
    [
        ("attribution_window", "attribution_window", {"lookback": 6}),
        ("counting_window", "counting_window", {"lookback": 6}),
    ],
)
def test_window_helpers_accept_the_old_keyword(old, new, kwargs):
    from importlib import import_module

    # import_module: `import carethread.measures.panels as m` would give the function panels.
    module = import_module(
        "carethread.measures.attribution.rules" if old == "attribution_window" else "carethread.measures.panels"
    )
    with pytest.warns(DeprecationWarning, match=rf"{old}\(lookback=...\) is deprecated.*{new}\(lookback_months=...\)"):
        got = getattr(module, old)("2024-08-31", **kwargs)
    assert got == getattr(module, new)("2024-08-31", lookback_months=6)


def test_deprecation_warnings_point_at_the_callers_line(con):
    """DeprecationWarning is shown by default only when attributed to __main__: every alias
    must name the caller's line, not a line inside carethread."""
    import warnings

    from carethread.measures.attribution import attribution_remarks

    t = encounters_table(
        con,
        [
            {"patient_id": "p", "clinician_id": "A", "practice_id": "X", "setting": "primary_care", "start": s}
            for s in (dt.datetime(2024, 3, 1, 9), dt.datetime(2024, 4, 1, 9))
        ],
    )
    calls = [
        lambda: carethread.attribute(t, lookback=6),
        lambda: carethread.attribution_summary(t, as_of="2024-05-01"),
        lambda: attribution_remarks({"unattributed": 1}, rule="majority"),
    ]
    for call in calls:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        assert [w.filename for w in caught if w.category is DeprecationWarning] == [__file__]
