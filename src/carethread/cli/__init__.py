"""The ``carethread`` command line: a thin layer over the library.

Each command checks its own options, calls one library function and formats
the result; library errors become one line and an exit code at one boundary
(:mod:`.app`). Modules: :mod:`.app` (the application, its top-level options
and error boundary), :mod:`.console` (what is printed where),
:mod:`.data_options` (the options every data command shares, declared once
and injected), :mod:`.measure_options` (as-of and look-back),
:mod:`.report_options` (the report's), and the commands: :mod:`.measures`,
:mod:`.everything` (``all``), :mod:`.network`, :mod:`.outcomes`, :mod:`.planning`,
:mod:`.html_report`, :mod:`.synthetic`.
"""

from carethread.cli.app import app
from carethread.cli.everything import run_everything
from carethread.cli.html_report import report
from carethread.cli.measures import attribute, breaks, dyads, panels, patients, summary
from carethread.cli.network import network
from carethread.cli.outcomes import outcomes
from carethread.cli.planning import rebalance, what_if
from carethread.cli.synthetic import demo, synth

# Registered here, in the order --help lists them.
for _command in (patients, attribute, panels, dyads, breaks, summary):
    app.command()(_command)
app.command(name="all")(run_everything)
for _command in (network, outcomes, rebalance, what_if, synth, demo, report):
    app.command()(_command)

__all__ = ["app"]
