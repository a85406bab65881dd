"""Old names that keep working for one release, each with a warning that names the new one.

When a function or a keyword is renamed, the old name stays for one release
through the two helpers here, so every deprecation warns the same way:

* :func:`renamed_keywords` lets a function accept an old keyword name;
* :func:`renamed_function` makes an alias of a function under its old name.

Both raise :class:`DeprecationWarning` (shown by default in ``__main__``, in
notebooks and under pytest) whose message says what to write instead.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def warn_renamed(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that ``old`` is deprecated in favour of ``new``.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_renamed("f(lookback=...)", "f(lookback_months=...)")
    >>> str(caught[0].message)
    'f(lookback=...) is deprecated and will be removed in the next release; use f(lookback_months=...).'
    """
    warnings.warn(
        f"{old} is deprecated and will be removed in the next release; use {new}.",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def renamed_keywords(**renames: str) -> Callable[[F], F]:
    """Let a function accept old keyword names (``old="new"``), with a warning.

    Giving both the old and the new name is a ``TypeError``, as giving one
    argument twice is.

    >>> import warnings
    >>> @renamed_keywords(lookback="lookback_months")
    ... def window(*, lookback_months=18):
    ...     return lookback_months
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     window(lookback=6)
    6
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def accepting_old_names(*args, **kwargs):
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{func.__name__}() got both {old}= (deprecated) and {new}=; give only {new}=.")
                    warn_renamed(f"{func.__name__}({old}=...)", f"{func.__name__}({new}=...)")
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return accepting_old_names  # type: ignore[return-value]

    return decorate


def renamed_function(func: F, old_name: str) -> F:
    """An alias of ``func`` under its old name, warning on every call.

    >>> import warnings
    >>> def clinician_practice():
    ...     return "X"
    >>> clinician_practices = renamed_function(clinician_practice, "clinician_practices")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     clinician_practices()
    'X'
    >>> "use carethread.deprecation.clinician_practice()" in str(caught[0].message)
    True
    """
    new = f"{func.__module__}.{func.__name__}()"

    @functools.wraps(func)
    def alias(*args, **kwargs):
        warn_renamed(f"{old_name}()", new)
        return func(*args, **kwargs)

    alias.__name__ = alias.__qualname__ = old_name
    alias.__doc__ = f"Deprecated alias of :func:`{new[:-2]}`, removed in the next release."
    return alias  # type: ignore[return-value]
