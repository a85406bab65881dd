"""The report's last section: inputs, rejected rows, parameters, remarks, definitions and software."""

from __future__ import annotations

from carethread import privacy as pv
from carethread.reporting.html import cell_count, esc, section, table
from carethread.reporting.values import ReportValues
from carethread.wording import MISSING, percent

# --- Data and methods -------------------------------------------------------------------------

FORMULAS: tuple[tuple[str, str], ...] = (
    (
        "Visit",
        "a distinct (patient, clinician, calendar day) in the chosen settings and window; encounters "
        "without a clinician are left out.",
    ),
    ("UPC (usual provider of care)", "<code>max_j n_j / N</code> — Breslau N, Reeb KG. J Med Educ 1975;50:965-9."),
    ("COC (Bice–Boxerman)", "<code>(Σ n_j² − N) / (N (N − 1))</code> — Bice TW, Boxerman SB. Med Care 1977;15:347-9."),
    (
        "SECON (sequential continuity)",
        "<code>Σ 1[v_t = v_t+1] / (N − 1)</code> — Steinwachs DM. Med Care 1979;17:551-65.",
    ),
    (
        "Attribution",
        "plurality of visits over the look-back (18 months by default) before the attribution date, "
        "ties to the most recent visit — Murray M et al. Fam Pract Manag 2007;14(4):44-51.",
    ),
    (
        "Provider-side and patient-side continuity",
        "visits a clinician gave to their own panel / all their visits; "
        "visits of the panel with the clinician / all the panel's visits — "
        "Br J Gen Pract 2023;73:279.",
    ),
    (
        "Patient and clinician dependence",
        "visits of the pair / the patient's visits; visits of the pair / the clinician's visits.",
    ),
    (
        "Relationship break",
        "the attributed clinician (plurality over the trailing look-back) changes between "
        "quarters — to a partner in the same practice or to another practice — or the patient stops "
        "coming: emergency or urgent care only since, or no care for 12 months (lost).",
    ),
    (
        "Small counts",
        "every count from 1 to 10 is shown as &lt;11 and a second cell is hidden where a total would "
        "reveal it (CMS / ResDAC cell-size suppression policy).",
    ),
)


def methods_section(shown: ReportValues, *, params: dict, versions: dict) -> str:
    reads = table(
        ["source", "rows read", "accepted", "quarantined"],
        [
            [
                esc(r["source"]),
                f'<span class="count">{esc(r["read"])}</span>',
                f'<span class="count">{esc(r["accepted"])}</span>',
                f'<span class="count">{esc(r["quarantined"])}</span>',
            ]
            for r in shown.reads
        ],
        numeric=(1, 2, 3),
    )
    q = shown.quarantine
    if len(q):
        from carethread.validate import REASONS

        qt = table(
            ["source", "reason", "rows"],
            [
                [esc(r.source), esc(REASONS.get(r.reason, r.reason)), cell_count(shown, r.rows, r.state)]
                for r in q.itertuples()
            ],
            numeric=(2,),
        )
    else:
        qt = '<p class="empty">No row was rejected.</p>'
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in params.items())
    remarks = "".join(f"<li>{esc(r)}</li>" for r in shown.remarks) or "<li>None.</li>"
    formulas = "".join(f"<li><strong>{esc(name)}:</strong> {text}</li>" for name, text in FORMULAS)
    soft = ", ".join(f"{k} {v}" for k, v in versions.items())
    summary = shown.continuity_summary
    srows = []
    for r in summary.to_dict("records") if len(summary) else []:
        ok = pv.group_is_safe(r["patients_included"], privacy=shown.privacy)  # no statistic of fewer than 11
        srows.append(
            [f"<code>{esc(r['index'])}</code>", cell_count(shown, r["patients_included"])]
            + [percent(r[c]) if ok else MISSING for c in ("mean", "median", "pooled")]
        )
    body = (
        "<h3>Inputs</h3>"
        + reads
        + "<h3>Rejected rows by reason</h3>"
        + qt
        + "<h3>Settings and parameters</h3>"
        + f'<dl class="params">{dl}</dl>'
        + "<h3>Continuity indices, every patient of the current window (per cent)</h3>"
        + table(["index", "patients", "mean", "median", "pooled"], srows, numeric=(1, 2, 3, 4))
        + '<h3>Remarks and caveats</h3><ol class="remarks">'
        + remarks
        + "</ol>"
        + '<h3>Definitions and sources</h3><ul class="formulas">'
        + formulas
        + "</ul>"
        + f"<h3>Software</h3><p>{esc(soft)}</p>"
    )
    takeaway = "Where the numbers come from, what was left out and why, and how each measure is defined."
    return section("methods", "Data and methods", esc(takeaway), body)
