"""Privacy of shared outputs: small counts, complementary suppression, keyed pseudonyms (DESIGN.md section 6)."""

from __future__ import annotations

import hashlib
import re
import stat
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carethread import privacy as pv
from carethread.errors import OptionError

# --- one count --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0"), (1, "<11"), (5, "<11"), (10, "<11"), (11, "11"), (1832, "1 832"), (None, "")],
)
def test_suppress_writes_one_to_ten_as_under_eleven(n, text):
    assert pv.suppress(n) == text


def test_suppress_without_privacy_is_exact():
    assert pv.suppress(3, privacy=False) == "3"


def test_shares_and_group_statistics_need_eleven_on_both_sides():
    assert pv.share_is_safe(11, 22)
    assert not pv.share_is_safe(10, 1000)  # the count is small
    assert not pv.share_is_safe(995, 1000)  # the complement is small
    assert pv.share_is_safe(0, 50) and pv.share_is_safe(50, 50)
    assert not pv.share_is_safe(0, 0)
    assert pv.group_is_safe(11) and not pv.group_is_safe(10) and not pv.group_is_safe(0)


# --- complementary suppression: the rule and an independent check ----------------------


def reachable_sums(bounds):
    """Every sum the cells can add up to, each cell anywhere in its (lo, hi) bounds (brute force)."""
    sums = {0}
    for lo, hi in bounds:
        sums = {s + v for s in sums for v in range(lo, hi + 1)}
    return sums


def derivable_cells(values, states):
    """Hidden cells a reader could pin to one value from the shown cells and the shown total.

    The reader knows: shown cells exactly; ``<11`` cells are 1-10; ``hidden``
    cells are at least 11 (zeros are never hidden); the total, unless it is
    1-10 (then only that it is 1-10). Also flags a group whose hidden cells
    add up to 1-10 while the total is shown (that sum is itself a small count).
    """
    total = sum(values)
    shown = sum(v for v, s in zip(values, states, strict=True) if s == pv.SHOWN)
    hidden = [i for i, s in enumerate(states) if s != pv.SHOWN]
    if not hidden:
        return []
    totals = range(1, 11) if pv.is_small(total) else [total]
    top = max(total, 11)
    kinds = {pv.SMALL_CELL: (1, 10), pv.COMPLEMENTARY: (11, top), pv.WITHHELD: (1, top)}
    bounds = {i: kinds[states[i]] for i in hidden}
    problems = []
    if not pv.is_small(total) and pv.is_small(total - shown):
        problems.append("hidden cells add up to a small count")
    for i in hidden:
        others = reachable_sums([bounds[j] for j in hidden if j != i])
        possible = {v for v in range(bounds[i][0], bounds[i][1] + 1) for t in totals if (t - shown - v) in others}
        if len(possible) <= 1:
            problems.append(f"cell {i} is {possible}")
    return problems


@pytest.mark.parametrize(
    ("values", "states"),
    [
        ([120, 3, 40, 0], ["shown", "small", "complementary", "shown"]),
        ([120, 3, 4, 0], ["complementary", "small", "small", "shown"]),
        ([120, 3, 9, 0], ["shown", "small", "small", "shown"]),
        ([50, 1, 11], ["complementary", "small", "complementary"]),
        ([7], ["small"]),  # the total is 7 too, and is written <11
        ([0, 1, 11], ["shown", "withheld", "withheld"]),
        ([30, 40], ["shown", "shown"]),
        ([0, 0, 12], ["shown", "shown", "shown"]),
    ],
)
def test_suppress_group_examples(values, states):
    assert pv.suppress_group(values) == states
    assert derivable_cells(values, states) == []


def test_without_a_shown_total_only_small_cells_are_hidden():
    assert pv.suppress_group([120, 3, 40], total_shown=False) == ["shown", "small", "shown"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 12), st.integers(0, 60)), min_size=1, max_size=5))
def test_no_hidden_count_can_be_worked_out_from_the_total(values):
    states = pv.suppress_group(values)
    assert all(s != pv.SHOWN for v, s in zip(values, states, strict=True) if pv.is_small(v))
    assert all(s == pv.SHOWN for v, s in zip(values, states, strict=True) if v == 0)
    # With five cells or fewer the total is always safe to show (an unsafe total needs
    # eleven or more cells of 1: see the next test).
    assert pv.total_is_safe(values, states)
    assert derivable_cells(values, states) == []


def test_a_total_that_would_give_cells_away_is_flagged():
    assert not pv.total_is_safe([1] * 11, pv.suppress_group([1] * 11))
    assert derivable_cells([1] * 11, pv.suppress_group([1] * 11)) != []


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.integers(0, 40), min_size=3, max_size=3), min_size=1, max_size=4))
def test_table_suppression_protects_every_row_and_column(matrix):
    states = pv.suppress_table(matrix, row_totals=True, column_totals=True)
    bad_rows, bad_columns = pv.unsafe_totals(matrix, states)
    for r, row in enumerate(matrix):
        assert all(s != pv.SHOWN for v, s in zip(row, states[r], strict=True) if pv.is_small(v))
        if not bad_rows[r]:
            assert derivable_cells(row, states[r]) == []
    for c in range(3):
        if not bad_columns[c]:
            column = [row[c] for row in matrix]
            assert derivable_cells(column, [states[r][c] for r in range(len(matrix))]) == []


def test_table_suppression_only_checks_the_totals_that_are_shown():
    # Quarters (rows) have no shown total, kinds (columns) do.
    states = pv.suppress_table([[50, 2], [40, 30]], row_totals=False, column_totals=True)
    assert states == [["shown", "small"], ["shown", "complementary"]]
    assert pv.unsafe_totals([[50, 2], [40, 30]], states, row_totals=False) == ([False, False], [False, False])


def test_a_one_row_table_cannot_show_its_column_totals():
    states = pv.suppress_table([[0, 1, 11]])
    assert pv.unsafe_totals([[0, 1, 11]], states) == ([False], [False, False, True])


def test_cells_can_be_hidden_on_request():
    assert pv.suppress_group([40, 50, 60], hidden=[0]) == ["withheld", "complementary", "shown"]


def test_format_cell():
    assert pv.format_cell(3, pv.SMALL_CELL) == "<11"
    assert pv.format_cell(40, pv.COMPLEMENTARY) == "hidden"
    assert pv.format_cell(1, pv.WITHHELD) == "hidden"
    assert pv.format_cell(40, pv.SHOWN) == "40"
    assert pv.format_cell(3, pv.SMALL_CELL, privacy=False) == "3"


# --- counts in sentences --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "3 encounters in the chosen settings had no clinician.",
            "<11 encounters in the chosen settings had no clinician.",
        ),
        (
            "visits.csv: 2 of 1 000 rows quarantined (start is missing: 2 rows, first at row 7).",
            "visits.csv: <11 of 1 000 rows quarantined (start is missing: <11 rows, first at row 7).",
        ),
        ("412 of 9 000 patients had fewer than 2 visits.", "412 of 9 000 patients had fewer than 2 visits."),
        (
            "Each clinician holds about 1 900 relationships; each patient about 2.",
            "Each clinician holds about 1 900 relationships; each patient about 2.",
        ),
        ("11 patients had no visit.", "11 patients had no visit."),
        ("Look-back of 18 months; at least 2 visits.", "Look-back of 18 months; at least 2 visits."),
    ],
)
def test_redact_text(text, expected):
    assert pv.redact_text(text) == expected


# --- pseudonyms and the key --------------------------------------------------------------------


def test_pseudonyms_are_keyed_stable_and_short():
    key = bytes(range(32))
    a = pv.Pseudonymizer(key, "Clinician", ["C00001", "C00002"])
    b = pv.Pseudonymizer(key, "Clinician", ["C00002", "C00001", "C00003"])
    assert a("C00001") == b("C00001") and a("C00001") != a("C00002")
    assert a("C00001").startswith("Clinician ") and len(a("C00001")) == len("Clinician ") + pv.LABEL_DIGITS
    other = pv.Pseudonymizer(bytes(reversed(range(32))), "Clinician", ["C00001"])
    assert other("C00001") != a("C00001")
    # Not a plain hash of the id: nobody without the key can recompute it.
    assert hashlib.sha256(b"C00001").hexdigest()[: pv.LABEL_DIGITS] not in a("C00001")
    assert "C00001" not in a("C00001")
    # A clinician and a practice with the same id get unrelated labels.
    assert pv.Pseudonymizer(key, "Practice", ["C00001"])("C00001")[-6:] != a("C00001")[-6:]


def test_colliding_labels_are_lengthened(monkeypatch):
    monkeypatch.setattr(pv, "LABEL_DIGITS", 1)
    ids = [f"C{i:05d}" for i in range(40)]  # 40 ids, 16 one-digit labels: collisions are certain
    p = pv.Pseudonymizer(bytes(32), "Clinician", ids)
    labels = [p(i) for i in ids]
    assert len(set(labels)) == len(ids)
    assert min(len(label) for label in labels) == len("Clinician ") + 1


def test_pseudonymizer_off_shows_real_ids():
    assert pv.Pseudonymizer(bytes(32), "Clinician", ["C7"], enabled=False)("C7") == "C7"


def test_the_key_is_the_user_s_created_once_with_mode_0600_and_never_beside_the_data(tmp_path, monkeypatch):
    user_key = tmp_path / "config" / "carethread" / "pseudonym-key"
    monkeypatch.setenv("CARETHREAD_KEY_FILE", str(user_key))
    data = tmp_path / "extract"
    data.mkdir()
    (data / "encounters.csv").write_text("patient_id,start\n1,2024-01-01\n")
    first = pv.stored_key(data_path=data / "encounters.csv")
    assert (first.path, first.created, len(first.key)) == (user_key, True, 32)
    assert first.notice() == (
        f"Pseudonym key created in {user_key} (later reports use it too; --key FILE uses another)."
    )
    assert stat.S_IMODE(user_key.stat().st_mode) == 0o600
    assert user_key.read_text() == first.key.hex() + "\n"
    again = pv.stored_key(data_path=tmp_path / "another extract.csv")  # one key per user, whatever the input
    assert (again.key, again.created, again.notice()) == (first.key, False, None)
    assert sorted(p.name for p in data.iterdir()) == ["encounters.csv"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="platformdirs follows XDG_CONFIG_HOME on Linux")
def test_the_default_key_lives_in_the_user_config_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("CARETHREAD_KEY_FILE")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert pv.stored_key().path == tmp_path / "carethread" / "pseudonym-key"
    assert stat.S_IMODE((tmp_path / "carethread").stat().st_mode) == 0o700


def test_a_key_file_given_is_used_and_created_there_on_first_use(tmp_path):
    path = tmp_path / "project.key"
    created = pv.stored_key(path)
    assert created.created and created.path == path
    assert pv.stored_key(path).key == created.key == pv.load_or_create_key(key_file=path)


def test_a_key_file_that_is_not_hex_is_refused_without_quoting_it(tmp_path):
    for content in ["correct horse battery staple, a password\n", "ab" * 15, b"\xff\xfe binary"]:
        path = tmp_path / "key.txt"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        with pytest.raises(OptionError) as caught:
            pv.stored_key(path)
        assert str(caught.value) == (
            f"The key file {path} does not hold a pseudonym key: it must hold at least 32 hex digits (0-9, a-f) "
            "and nothing else. Give another file, or a new path where a key will be created."
        )


def test_a_key_left_beside_the_data_by_older_versions_is_still_read(tmp_path):
    (tmp_path / pv.KEY_FILE).write_text("cd" * 32 + "\n")
    stored = pv.stored_key(data_path=tmp_path / "encounters.csv")
    assert (stored.key, stored.legacy, stored.path) == (bytes.fromhex("cd" * 32), True, tmp_path / pv.KEY_FILE)
    assert pv.stored_key(tmp_path / "mine.key", data_path=tmp_path).path == tmp_path / "mine.key"  # --key wins


def test_a_supplied_key_wins_and_must_be_long_enough(tmp_path):
    assert pv.load_or_create_key(tmp_path, key="ab" * 16) == bytes.fromhex("ab" * 16)
    assert not (tmp_path / pv.KEY_FILE).exists()
    with pytest.raises(OptionError, match="at least 16 bytes"):
        pv.load_or_create_key(tmp_path, key="short")


def test_without_a_writable_config_folder_the_key_lives_for_this_run(tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("x")
    monkeypatch.setenv("CARETHREAD_KEY_FILE", str(tmp_path / "a_file" / "pseudonym-key"))
    first, second = pv.stored_key(), pv.stored_key()
    assert first.path is None and first.key != second.key
    assert first.notice() == (
        f"Note: no pseudonym key could be stored ({tmp_path / 'a_file' / 'pseudonym-key'}: Not a directory); "
        "this report's labels will not match later ones. Give a key file with --key FILE."
    )


# --- the report command's key (issue 13) ---------------------------------------------------------


def test_report_keeps_its_key_out_of_a_read_only_input_folder_and_says_where_once(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from carethread.cli import app

    user_key = tmp_path / "config" / "pseudonym-key"
    monkeypatch.setenv("CARETHREAD_KEY_FILE", str(user_key))
    data = tmp_path / "shared"
    data.mkdir()
    (data / "visits.csv").write_text(
        "patient_id,clinician_id,start\n" + "".join(f"P{p},C{p % 3},2023-0{m}-01\n" for p in range(66) for m in (1, 5))
    )
    data.chmod(0o555)  # shared and read-only (root writes anyway: the listing below is the check)
    try:
        runs = [
            CliRunner().invoke(app, ["report", str(data), "--out", str(tmp_path / f"r{i}.html"), "--bootstrap", "5"])
            for i in (1, 2)
        ]
    finally:
        data.chmod(0o755)
    assert [r.exit_code for r in runs] == [0, 0], runs[0].stderr
    notice = f"Pseudonym key created in {user_key} (later reports use it too; --key FILE uses another)."
    assert notice in runs[0].stderr.splitlines() and "Pseudonym key" not in runs[1].stderr
    assert sorted(p.name for p in data.iterdir()) == ["visits.csv"]
    labels = [sorted(set(re.findall(r"Clinician [0-9a-f]{6}", (tmp_path / f"r{i}.html").read_text()))) for i in (1, 2)]
    expected = sorted(
        pv.Pseudonymizer(pv.load_or_create_key(), "Clinician", ["C0", "C1", "C2"])(c) for c in ["C0", "C1", "C2"]
    )
    assert labels == [expected, expected]


def test_report_key_option_and_its_deprecated_alias(tmp_path):
    from typer.testing import CliRunner

    from carethread.cli import app

    data = tmp_path / "visits.csv"
    data.write_text("patient_id,clinician_id,start\nP1,C1,2023-01-01\nP1,C1,2023-02-01\n")

    def report(*options):
        return CliRunner().invoke(
            app, ["report", str(data), "--out", str(tmp_path / "r.html"), "--bootstrap", "5", *options]
        )

    bad = tmp_path / "bad.key"
    bad.write_text("not hex at all")
    refused = report("--key", str(bad))
    assert refused.exit_code == 2 and "does not hold a pseudonym key" in refused.stderr
    assert "not hex at all" not in refused.stderr and not (tmp_path / "r.html").exists()
    made = report("--key", str(tmp_path / "team.key"))
    assert made.exit_code == 0 and f"Pseudonym key created in {tmp_path / 'team.key'}" in made.stderr
    alias = report("--key-file", str(tmp_path / "team.key"))
    assert alias.exit_code == 0
    assert "Note: --key-file is deprecated and will be removed; use --key." in alias.stderr
    missing = report("--key-file", str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "--key-file" in missing.stderr
