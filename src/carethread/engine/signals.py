"""Ctrl-C and SIGTERM stop a run, even inside a DuckDB query.

DuckDB's Python client runs Python's signal handlers while a query runs, but
swallows the ``KeyboardInterrupt`` they raise: a Ctrl-C during a long query
or a ``COPY ... TO`` file is ignored and the query runs to its end. And
SIGTERM's default action kills the process on the spot, so ``finally``
blocks (which remove half-written temporary files) never run.

:func:`stop_on_signals` fixes both for the block it guards: on SIGINT or
SIGTERM it interrupts every DuckDB connection :func:`watch` was told about,
then raises ``KeyboardInterrupt`` (SIGINT) or :class:`Terminated` (SIGTERM,
a ``SystemExit`` with code 143, so an uncaught one ends the process as the
signal would, after every ``finally`` block ran). Blocks nest; signal
handlers can only be installed by the main thread, so elsewhere the guard
does nothing.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import weakref
from collections.abc import Iterator

from ibis.backends import BaseBackend

#: Exit codes of a process stopped by a signal, as shells report them (128 + the signal's number).
EXIT_SIGINT = 128 + signal.SIGINT
EXIT_SIGTERM = 128 + signal.SIGTERM

#: DuckDB connections a signal interrupts (weakly held: a closed, dropped connection just leaves).
_watched: weakref.WeakSet = weakref.WeakSet()


class Terminated(SystemExit):
    """The process received SIGTERM; ``code`` is 143."""

    def __init__(self) -> None:
        super().__init__(EXIT_SIGTERM)


def watch(con: BaseBackend) -> BaseBackend:
    """Let a signal interrupt the queries of ``con`` (an embedded DuckDB; other engines are left alone).

    Returns ``con``.

    >>> import ibis
    >>> watch(ibis.duckdb.connect()).name
    'duckdb'
    """
    if getattr(con, "name", None) == "duckdb":
        _watched.add(con)
    return con


def _interrupt_watched() -> None:
    for con in list(_watched):
        with contextlib.suppress(Exception):  # a connection closed meanwhile has nothing to stop
            con.con.interrupt()


def _raised_for(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated()


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into ``KeyboardInterrupt`` and :class:`Terminated` inside the block.

    Whatever the block raises after a signal arrived (DuckDB's own
    ``InterruptException``, say) comes out as the signal's exception, and
    so does a block that finished anyway. A second signal while the first
    unwinds is only counted, so clean-up code is not cut short. The
    handlers in place before are restored on the way out.

    >>> import os, signal
    >>> try:
    ...     with stop_on_signals():
    ...         os.kill(os.getpid(), signal.SIGTERM)
    ... except Terminated as stop:
    ...     print("stopped", stop.code)
    stopped 143
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(signum, _frame) -> None:
        received.append(signum)
        if len(received) == 1:
            _interrupt_watched()
            raise _raised_for(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except BaseException:
        if received:
            raise _raised_for(received[0]) from None
        raise
    else:
        if received:  # the exception was swallowed (inside DuckDB) and the block ran to its end
            raise _raised_for(received[0])
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
