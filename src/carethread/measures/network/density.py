"""Care density: how closely the clinicians of one patient work together.

**Care density** (Pollack CE, Weissman GE, Lemke KW, Hussey PS, Weiner JP.
J Gen Intern Med 2013;28:459-65) of a patient who saw ``n ≥ 2`` clinicians
in the window: the mean, over the ``n (n - 1) / 2`` pairs of those
clinicians, of the patients each pair shares (the patient included)::

    C_p = sum over pairs {a, b} of w(a, b)  /  (n (n - 1) / 2)

where ``w(a, b)`` is ``shared_patients`` of the patient-sharing network
(:func:`~carethread.measures.network.edges.sharing_network`). Visits do not
matter beyond the patient-clinician ties.

**Fragmented care density** (Engels A, Konnopka C, Henken E, Härter M,
König H-H. BMC Med Res Methodol 2024;24:4) weights each pair by the types of
its two clinicians (a specialty or a role)::

    FC_p = sum over connection types j of  v_j * s_j / (n (n - 1) / 2)

where ``s_j`` sums ``w(a, b)`` over the patient's pairs of type ``j`` and
``v_j`` is the weight the user gives type ``j``. With every ``v_j = 1`` it is
the care density.

Both reproduce the R package CareDensity 0.1.0 (Denz R, CRAN 2024), whose
test and vignette values are in ``tests/test_network.py``. Differences of
convention, all documented in docs/network.md:

* patients with one clinician get a null density, as in the package; a
  patient with no visit in the window and settings has no row (the package
  has no such patient either);
* ties come from visits in a window and settings (every setting by default),
  where the package takes the ties it is given;
* a connection type is written with its two types in sorted order
  (``GP - Psychiatrist``); the package writes them in the order its joins
  leave them (``Psychiatrist - GP``);
* a clinician without a type is of type ``unknown`` where the package stops
  with an error; a connection type in the data without a weight is an error
  in both;
* with a ``network`` given, a pair missing from it weighs 0 (the package
  always builds the network from its own input, so every pair is present).

Edge cases: null (never NaN) for fewer than two clinicians; encounters
without a clinician are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

import ibis
import pyarrow as pa

from carethread.errors import InputError, OptionError
from carethread.measures.display import as_result
from carethread.measures.network.edges import clinician_ties, merge_partials, patient_pairs, tie_pair_rows
from carethread.measures.numbers import exact_int64, ratio
from carethread.options import Clinicians, DateLike, Settings, clinicians_table

#: Columns of :func:`care_density`.
DENSITY_COLUMNS: tuple[str, ...] = ("patient_id", "n_clinicians", "sum_weights", "care_density")

#: The type of a clinician the clinicians table gives no type.
UNKNOWN_TYPE = "unknown"

#: Columns of a clinician-type weights table (as the CareDensity package names them).
TYPE_WEIGHT_COLUMNS: tuple[str, ...] = ("from", "to", "weight")

#: The weight of each pair of clinician types: a table of ``from, to, weight`` (anything
#: ``ibis.memtable`` reads) or a mapping ``{(type, type): weight}``.
TypeWeights: TypeAlias = ibis.Table | pa.Table | Mapping[str, Sequence] | Mapping[tuple[str, str], float] | None


def _weighted_pairs(
    encounters: ibis.Table, *, settings: Settings, start: DateLike, end: DateLike, network: ibis.Table | None
) -> tuple[ibis.Table, ibis.Table]:
    """``(pairs, ties)``: each patient's pairs with the pair's weight ``w``, and the ties they come from."""
    ties = clinician_ties(encounters, settings=settings, start=start, end=end)
    if network is None:
        network = merge_partials(tie_pair_rows(ties))
    weights = network.select("clinician_a", "clinician_b", w=network.shared_patients)
    pairs = patient_pairs(ties).select("patient_id", "clinician_a", "clinician_b")
    joined = pairs.left_join(weights, ["clinician_a", "clinician_b"])
    return joined.select("patient_id", "clinician_a", "clinician_b", w=joined.w.fill_null(0).cast("int64")), ties


def _with_every_patient(ties: ibis.Table, sums: ibis.Table) -> ibis.Table:
    """Every patient of ``ties`` with their number of clinicians, joined to ``sums`` (null where absent)."""
    counts = ties.group_by("patient_id").aggregate(n_clinicians=ties.count())
    j = counts.left_join(sums, "patient_id")
    return j.select("patient_id", "n_clinicians", *[c for c in sums.columns if c != "patient_id"])


def _density(sum_weights: ibis.Value, n_clinicians: ibis.Value) -> ibis.Value:
    """``sum_weights / (n (n - 1) / 2)``, null for fewer than two clinicians."""
    pairs = n_clinicians * (n_clinicians - 1) // 2
    return ratio(sum_weights, pairs)


def care_density(
    encounters: ibis.Table,
    *,
    settings: Settings = None,
    start: DateLike = None,
    end: DateLike = None,
    network: ibis.Table | None = None,
) -> ibis.Table:
    """Care density of every patient (Pollack et al. 2013).

    Parameters
    ----------
    encounters
        Canonical encounters (``schema.ENCOUNTERS``).
    settings
        Settings whose encounters make ties; default every setting, as for
        the network (:func:`~carethread.measures.network.edges.network_settings`).
    start, end
        Window ``[start, end)``.
    network
        The sharing network whose ``shared_patients`` weigh the pairs
        (``clinician_a < clinician_b``); default: the network of the same
        encounters, window and settings. A pair it lacks weighs 0.

    Returns
    -------
    ibis.Table
        ``patient_id, n_clinicians, sum_weights, care_density``: one row per
        patient with a visit; ``sum_weights`` sums the weights of the
        patient's ``n (n - 1) / 2`` pairs and ``care_density`` divides it by
        that number; both are null for one clinician.

    Notes
    -----
    Formula, citation and the conventions of the CareDensity package: see
    the module docstring and docs/definitions.md, *Sharing network and care
    density*.

    Examples
    --------
    The CareDensity vignette: patients 1:{A, C, D}, 2:{A, D}, 3:{A, D}, 4:{D},
    5:{C}, so A-C share 1 patient, A-D 3 and C-D 1:

    >>> import ibis, datetime as dt
    >>> ties = [("1", "A"), ("1", "C"), ("1", "D"), ("2", "A"), ("2", "D"), ("3", "A"), ("3", "D"),
    ...     ("4", "D"), ("5", "C")]
    >>> enc = ibis.memtable({"patient_id": [p for p, _ in ties], "clinician_id": [c for _, c in ties],
    ...     "practice_id": ["X"] * 9, "setting": ["primary_care"] * 9, "start": [dt.datetime(2024, 1, 2)] * 9})
    >>> rows = care_density(enc).order_by("patient_id").to_pyarrow().to_pylist()
    >>> [(r["patient_id"], r["sum_weights"], r["care_density"] and round(r["care_density"], 4)) for r in rows]
    [('1', 5, 1.6667), ('2', 3, 3.0), ('3', 3, 3.0), ('4', None, None), ('5', None, None)]
    """
    pairs, ties = _weighted_pairs(encounters, settings=settings, start=start, end=end, network=network)
    sums = pairs.group_by("patient_id").aggregate(sum_weights=exact_int64(pairs.w.sum()))
    j = _with_every_patient(ties, sums)
    return as_result(
        j.select(
            "patient_id",
            n_clinicians=exact_int64(j.n_clinicians),
            sum_weights=j.sum_weights,
            care_density=_density(j.sum_weights, j.n_clinicians),
        )
    )


def clinician_types(clinicians: Clinicians, type_column: str = "specialty") -> ibis.Table:
    """``clinician_id, clinician_type``: each clinician's type from ``type_column`` of the clinicians table.

    Surrounding whitespace is dropped; a clinician listed twice takes the
    smallest type; a blank type is missing.

    >>> clinician_types({"clinician_id": ["A", "A"], "specialty": [" GP", "Psychiatrist"]}).execute().to_dict("records")
    [{'clinician_id': 'A', 'clinician_type': 'GP'}]
    """
    c = clinicians_table(clinicians)
    if c is None or type_column not in c.columns:
        raise InputError(
            f"The fragmented care density needs the clinicians table with a {type_column} column to type each "
            "clinician; pass clinicians=... (or choose type_column='role' or 'specialty')."
        )
    kind = c[type_column].cast("string").re_replace(r"^\s+|\s+$", "")
    c = c.select(clinician_id=c.clinician_id.cast("string"), clinician_type=ibis.ifelse(kind == "", None, kind))
    return c.group_by("clinician_id").aggregate(clinician_type=c.clinician_type.min())


def _type_weights(type_weights) -> dict[tuple[str, str], float]:
    """``{(lo, hi): weight}`` from a table or mapping of ``from, to, weight`` (either order of the two types)."""
    if isinstance(type_weights, Mapping) and not set(TYPE_WEIGHT_COLUMNS) <= set(type_weights):
        items = [(*key, value) for key, value in type_weights.items()]
    else:
        t = clinicians_table(type_weights)
        if not set(TYPE_WEIGHT_COLUMNS) <= set(t.columns):
            raise OptionError(
                "type_weights needs the columns from, to and weight (one row per pair of clinician types), "
                "or a mapping {(type, type): weight}."
            )
        rows = t.select(*TYPE_WEIGHT_COLUMNS).to_pyarrow().to_pylist()
        items = [(r["from"], r["to"], r["weight"]) for r in rows]
    out: dict[tuple[str, str], float] = {}
    for one, other, weight in items:
        key = tuple(sorted((str(one).strip(), str(other).strip())))
        if key in out and out[key] != weight:
            raise OptionError("type_weights gives one pair of clinician types two different weights; keep one.")
        out[key] = float(weight)
    return out


def fragmented_care_density(
    encounters: ibis.Table,
    *,
    clinicians: Clinicians = None,
    settings: Settings = None,
    start: DateLike = None,
    end: DateLike = None,
    type_weights: TypeWeights = None,
    type_column: str = "specialty",
    by_connection: bool = False,
    network: ibis.Table | None = None,
) -> ibis.Table:
    """Fragmented care density of every patient (Engels et al. 2024).

    Parameters
    ----------
    encounters
        Canonical encounters (``schema.ENCOUNTERS``).
    clinicians
        Canonical clinicians table (required); ``type_column`` types each
        clinician.
    settings, start, end, network
        As for :func:`care_density`.
    type_weights
        The weight of each connection type: a table (or mapping of columns)
        ``from, to, weight`` as in the CareDensity package, or a mapping
        ``{(type, type): weight}``; the order of the two types does not
        matter. Not needed with ``by_connection``.
    type_column
        ``"specialty"`` (default) or ``"role"``: the clinicians' column whose
        value is their type. Clinicians without one are of type ``unknown``.
    by_connection
        Return the per-type parts instead of the weighted sum (to estimate
        the weights, as Engels et al. do with a regression).

    Returns
    -------
    ibis.Table
        ``patient_id, fragmented_care_density`` (null for one clinician); with
        ``by_connection``: ``patient_id, connection, sum_weights,
        n_clinicians, care_density`` per patient and connection type
        (``"GP - Psychiatrist"``, the two types sorted), one row with a null
        connection for a patient with one clinician.

    Raises
    ------
    OptionError
        Without ``type_weights`` (and ``by_connection`` off), or when a
        connection type of the network has no weight.

    Examples
    --------
    The CareDensity package's test: A and C are GPs, D a psychiatrist, the
    weights GP-GP 0.3, GP-Psychiatrist 1.6, Psychiatrist-Psychiatrist 1.1:

    >>> import ibis, datetime as dt
    >>> ties = [("1", "A"), ("1", "C"), ("1", "D"), ("2", "A"), ("2", "D"), ("3", "A"), ("3", "D"),
    ...     ("4", "D"), ("5", "C")]
    >>> enc = ibis.memtable({"patient_id": [p for p, _ in ties], "clinician_id": [c for _, c in ties],
    ...     "practice_id": ["X"] * 9, "setting": ["primary_care"] * 9, "start": [dt.datetime(2024, 1, 2)] * 9})
    >>> types = {"clinician_id": ["A", "C", "D"], "specialty": ["GP", "GP", "Psychiatrist"]}
    >>> weights = {("GP", "GP"): 0.3, ("GP", "Psychiatrist"): 1.6, ("Psychiatrist", "Psychiatrist"): 1.1}
    >>> t = fragmented_care_density(enc, clinicians=types, type_weights=weights).order_by("patient_id")
    >>> [v and round(v, 4) for v in t.fragmented_care_density.to_list()]
    [2.2333, 4.8, 4.8, None, None]
    """
    if type_weights is None and not by_connection:
        raise OptionError("The fragmented care density needs type_weights (from, to, weight), or by_connection=True.")
    pairs, ties = _weighted_pairs(encounters, settings=settings, start=start, end=end, network=network)
    types = clinician_types(clinicians, type_column)
    typed = pairs
    for side in ("a", "b"):
        named = types.select(**{f"clinician_{side}": types.clinician_id, f"type_{side}": types.clinician_type})
        typed = typed.left_join(named, f"clinician_{side}").drop(f"clinician_{side}_right")
    lo = ibis.least(typed.type_a.fill_null(UNKNOWN_TYPE), typed.type_b.fill_null(UNKNOWN_TYPE))
    hi = ibis.greatest(typed.type_a.fill_null(UNKNOWN_TYPE), typed.type_b.fill_null(UNKNOWN_TYPE))
    typed = typed.select("patient_id", "w", type_lo=lo, type_hi=hi)
    if by_connection:
        parts = typed.group_by("patient_id", connection=typed.type_lo.concat(" - ", typed.type_hi)).aggregate(
            sum_weights=exact_int64(typed.w.sum())
        )
        j = _with_every_patient(ties, parts)
        return as_result(
            j.select(
                "patient_id",
                "connection",
                sum_weights=j.sum_weights,
                n_clinicians=exact_int64(j.n_clinicians),
                care_density=_density(j.sum_weights, j.n_clinicians),
            )
        )
    weights = _type_weights(type_weights)
    _check_weighted(typed, weights)
    table = ibis.memtable(
        {
            "type_lo": [k[0] for k in weights],
            "type_hi": [k[1] for k in weights],
            "type_weight": list(weights.values()),
        }
    )
    w = typed.left_join(table, ["type_lo", "type_hi"])
    sums = w.group_by("patient_id").aggregate(weighted=(w.w.cast("float64") * w.type_weight).sum())
    j = _with_every_patient(ties, sums)
    pairs_of = j.n_clinicians * (j.n_clinicians - 1) // 2
    return as_result(
        j.select("patient_id", fragmented_care_density=ibis.ifelse(pairs_of > 0, j.weighted / pairs_of, None))
    )


def _check_weighted(typed: ibis.Table, weights: dict[tuple[str, str], float]) -> None:
    """Every connection type of the patients' pairs must have a weight."""
    present = typed.select("type_lo", "type_hi").distinct().to_pyarrow().to_pylist()
    missing = [r for r in present if (r["type_lo"], r["type_hi"]) not in weights]
    if missing:
        raise OptionError(
            f"{len(missing)} connection types of the data have no weight in type_weights; "
            "by_connection=True lists every connection type. Add a weight for each."
        )
