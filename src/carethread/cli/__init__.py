"""The ``carethread`` command line: a thin layer over the library.

Each command checks its own options, calls one library function and formats
the result; library errors become one line and an exit code at one boundary
(:mod:`.app`). Modules: :mod:`.app` (the application, its top-level options
and error boundary), :mod:`.console` (what is printed where),
:mod:`.data_options` (the options every data command shares, declared once
and injected), :mod:`.measure_options` (as-of and look-back), and the
commands: :mod:`.measures`, :mod:`.network`, :mod:`.html_report`, :mod:`.synthetic`.
"""

from carethread.cli.app import app
from carethread.cli.html_report import report
from carethread.cli.measures import attribute, breaks, dyads, panels, patients, summary
from carethread.cli.network import network
from carethread.cli.outcomes import outcomes
from carethread.cli.planning import rebalance, what_if
from carethread.cli.synthetic import demo, synth

# Registered here, in the order --help lists them.
commands = (
    patients,
    attribute,
    panels,
    dyads,
    breaks,
    summary,
    network,
    outcomes,
    rebalance,
    what_if,
    synth,
    demo,
    report,
)
for _command in commands:
    app.command()(_command)

__all__ = ["app"]
