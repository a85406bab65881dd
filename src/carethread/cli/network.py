"""``carethread network``: the patient-sharing network, its care teams, and care density for ``patients``.

The edge list goes to the screen, a ``.csv`` or ``.parquet`` file, or a
``.graphml`` file for network tools. ``--shareable`` makes it fit to leave
the analyst's hands (docs/definitions.md, *Privacy*): pairs under
``--min-shared`` (11) patients left out, small direction counts hidden,
clinicians and practices pseudonymised with the same key as the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from carethread.cli.console import emit, err_console, print_remarks, say_window, step
from carethread.cli.data_options import DataOptions, data_command
from carethread.cli.measures import computed_in_batches
from carethread.errors import OptionError

if TYPE_CHECKING:
    import ibis

    from carethread.data import CanonicalData

KeyFileOpt = Annotated[
    Path | None, typer.Option("--key-file", help="Pseudonym key file (hex) [default: beside the data].")
]

#: What ``--out`` of the network writes, by extension.
NETWORK_OUTPUTS = (".csv", ".parquet", ".graphml")


def _check(out: Path | None, teams: Path | None, min_shared: int | None, shareable: bool, key_file: Path | None):
    from carethread.measures.network.edges import check_min_shared
    from carethread.measures.network.export import SHAREABLE_MIN_SHARED
    from carethread.output import check_out_path

    if out is not None and out.suffix.lower() not in NETWORK_OUTPUTS:
        raise OptionError(f"--out {out.name}: write to a .csv, .parquet or .graphml file (the extension decides).")
    if teams is not None:
        check_out_path(teams, option="--teams")
    if min_shared is not None:
        check_min_shared(min_shared)
        if shareable and min_shared < SHAREABLE_MIN_SHARED:
            raise OptionError(
                f"--shareable lists pairs of at least {SHAREABLE_MIN_SHARED} patients; raise --min-shared."
            )
    if key_file is not None and not key_file.is_file():
        raise OptionError(f"--key-file {key_file}: no such file; write the key (hex) into it or leave the option out.")


def _labels(data: CanonicalData, shared: DataOptions, key_file: Path | None):
    """Clinician and practice pseudonyms keyed as the report keys them."""
    from carethread.privacy import Pseudonymizer, load_or_create_key
    from carethread.reporting.compute import provider_ids

    key = load_or_create_key(shared.input_path, key=key_file.read_text().strip() if key_file else None)
    ids = provider_ids(data.encounters, data.clinicians)
    return Pseudonymizer(key, "Clinician", ids["clinician_id"]), Pseudonymizer(key, "Practice", ids["practice_id"])


@data_command(omit=("out",))
def network(
    *,
    within: Annotated[
        int | None,
        typer.Option(
            "--within",
            metavar="DAYS",
            help="Count a shared patient only through visits at most DAYS apart (the CMS patterns use 30, 60, 90, "
            "180); adds a_then_b and b_then_a.",
        ),
    ] = None,
    min_shared: Annotated[
        int | None,
        typer.Option("--min-shared", help="Leave out pairs sharing fewer patients [default: 1; 11 with --shareable]."),
    ] = None,
    shareable: Annotated[
        bool,
        typer.Option(
            "--shareable",
            help="Fit to share: pairs under 11 patients left out, direction counts 1-10 hidden, "
            "clinicians and practices pseudonymised.",
        ),
    ] = False,
    key_file: KeyFileOpt = None,
    teams: Annotated[
        Path | None,
        typer.Option(
            "--teams",
            help="Also find the care teams (Leiden, primary care unless --settings) and write each clinician's "
            "team, practice and betweenness to this .csv or .parquet file.",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to a .csv, .parquet or .graphml file instead of printing.")
    ] = None,
    shared: DataOptions,
) -> None:
    """Clinician pairs who share patients: shared patients and visits, first and last shared day (every setting
    unless --settings)."""
    import ibis

    from carethread.measures.network.edges import check_within_days, sharing_network
    from carethread.measures.network.export import GRAPHML, SHAREABLE_MIN_SHARED, shareable_network, write_graphml

    _check(out, teams, min_shared, shareable, key_file)
    within = check_within_days(within)
    data = shared.read()
    window = network_window(data, shared)
    say_window(window.line(), out=out)
    floor = min_shared or (SHAREABLE_MIN_SHARED if shareable else 1)
    result = computed_in_batches(
        "Computing the sharing network",
        sharing_network,
        data,
        shared,
        **shared.window(),
        within_days=within,
        min_shared=floor,
    )
    clinician_label = practice_label = None
    if shareable:
        clinician_label, practice_label = _labels(data, shared, key_file)
        result = ibis.memtable(
            shareable_network(result, min_shared=floor, clinician_label=clinician_label).to_pyarrow()
        )
    if out is not None and out.suffix.lower() == GRAPHML:
        with step(f"Writing {out.name}"):
            write_graphml(result, out, practices=_practices(data, shared, clinician_label, practice_label))
        err_console.print(f"Wrote {out}")
    else:
        emit(result, out, limit=shared.limit, metadata=window.metadata(within_days=within, min_shared=floor))
    if teams is not None:
        _write_teams(data, shared, teams, clinician_label, practice_label)
    print_remarks(data.remarks)


def _practices(data: CanonicalData, shared: DataOptions, clinician_label, practice_label) -> dict[str, str | None]:
    """Each clinician's practice for the GraphML vertices, pseudonymised when labels are given."""
    from carethread.measures.network.edges import network_settings
    from carethread.measures.practices import clinician_practice

    rows = clinician_practice(
        data.encounters,
        clinicians=data.clinicians,
        settings=network_settings(shared.settings),
        start=shared.start,
        end=shared.end,
    ).to_pyarrow()
    if clinician_label is None:
        return {r["clinician_id"]: r["practice_id"] for r in rows.to_pylist()}
    return {clinician_label(r["clinician_id"]): practice_label(r["practice_id"]) for r in rows.to_pylist()}


def _write_teams(data: CanonicalData, shared: DataOptions, path: Path, clinician_label, practice_label) -> None:
    """Find the care teams, write their members, say how they match the practices."""
    import ibis
    import pyarrow as pa

    from carethread.measures.network.teams import care_teams
    from carethread.output import write_table
    from carethread.wording import decimals

    with step("Finding the care teams"):
        found = care_teams(data.encounters, clinicians=data.clinicians, **shared.window())
    members = found.members
    if clinician_label is not None:  # a shared output: pseudonyms, as the edge list
        for column, label in (("clinician_id", clinician_label), ("practice_id", practice_label)):
            named = [label(v) for v in members[column].to_pylist()]
            members = members.set_column(members.schema.get_field_index(column), column, pa.array(named, pa.string()))
    write_table(ibis.memtable(members), path)
    n_teams = found.teams.num_rows
    match = (
        "no practice to compare with"
        if found.adjusted_rand is None
        else (f"adjusted Rand index against the recorded practices {decimals(found.adjusted_rand)}")
    )
    err_console.print(f"Wrote {path}: {n_teams} care teams, {match}")


def network_window(data: CanonicalData, shared: DataOptions):
    """The network's window: all the data unless --start/--end, every setting unless --settings."""
    from carethread.run.windows import all_data_window
    from carethread.schema import SETTINGS

    return all_data_window(data.encounters, **{**shared.window(), "settings": shared.settings or SETTINGS})


def with_care_density(patients: ibis.Table, data: CanonicalData, shared: DataOptions) -> ibis.Table:
    """``patients`` with each patient's ``care_density`` (every setting unless ``--settings``), null when absent."""
    from carethread.measures.network.density import care_density

    density = computed_in_batches("Computing care density", care_density, data, shared, **shared.window())
    j = patients.left_join(density.select("patient_id", "care_density"), "patient_id")
    return j.select(*patients.columns, "care_density").cache()
