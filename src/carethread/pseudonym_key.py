"""Where the pseudonym key lives: one per user, in the user's configuration folder.

Pseudonyms (``Clinician 7f3a9c``, :mod:`carethread.privacy`) are keyed so
that nobody with only the ids can recompute them, and the key is kept so
that labels stay the same from one report to the next.

**One key per user**, not one per input. An extract is usually redrawn
(monthly, with a new name or folder) and often sits in a shared or read-only
folder: a key kept beside the data or tied to its path would relabel every
clinician with each new extract, or could not be written at all. The key
lives in the user's configuration folder (``platformdirs``:
``~/.config/carethread/pseudonym-key`` on Linux), created on first use with
mode 0600 in a folder only the user can enter. The same clinician then gets
the same label in every report a user makes; to keep projects apart (labels
not linkable between them) or to share labels within a team, give each
project its own key file (``--key FILE``, ``key_file=``). The environment
variable ``CARETHREAD_KEY_FILE`` moves the default.

Older versions kept the key beside the data (``.carethread-key``); such a
key is still read, never written, so old labels stay.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from carethread.errors import OptionError

#: Name of the key file older versions wrote beside the data (read, never written).
KEY_FILE = ".carethread-key"

#: Name of the key file in the user's configuration folder.
KEY_NAME = "pseudonym-key"

#: Environment variable that names the default key file instead.
KEY_ENV = "CARETHREAD_KEY_FILE"

#: Bytes of a key (hex digits are twice as many); a key must have at least :data:`MIN_KEY_BYTES`.
KEY_BYTES, MIN_KEY_BYTES = 32, 16


def default_key_file() -> Path:
    """The user's key file: ``$CARETHREAD_KEY_FILE``, else ``pseudonym-key`` in the user's config folder.

    >>> default_key_file().name in ("pseudonym-key", os.path.basename(os.environ.get(KEY_ENV, "")))
    True
    """
    if os.environ.get(KEY_ENV):
        return Path(os.environ[KEY_ENV]).expanduser()
    import platformdirs

    return platformdirs.user_config_path("carethread") / KEY_NAME


def key_bytes(key: str | bytes) -> bytes:
    """A key given in code: bytes as they are, text as hex if it is hex, else its UTF-8 bytes.

    >>> key_bytes("ab" * 16) == bytes.fromhex("ab" * 16)
    True
    """
    if isinstance(key, bytes):
        raw = key
    else:
        text = key.strip()
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = text.encode("utf-8")
    if len(raw) < MIN_KEY_BYTES:
        raise OptionError(
            "The pseudonym key must be at least 16 bytes (32 hex digits); leave --key out to generate one."
        )
    return raw


def read_key_file(path: str | os.PathLike) -> bytes:
    """The key in a key file: hex digits (at least 32), surrounding spaces and newlines ignored.

    A file holding anything else is refused, so a wrong file (a password
    file, a CSV) is not silently used as a key. The message never quotes the
    file's content.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "key"
    >>> _ = path.write_text("not a key")
    >>> read_key_file(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    carethread.errors.OptionError: The key file .../key does not hold a pseudonym key: ...
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        text = None
    except OSError as exc:
        raise OptionError(f"The key file {p} cannot be read ({os.strerror(exc.errno or 0)}).") from None
    try:
        raw = bytes.fromhex(text) if text is not None else b""
    except ValueError:
        raw = b""
    if len(raw) < MIN_KEY_BYTES:
        raise OptionError(
            f"The key file {p} does not hold a pseudonym key: it must hold at least 32 hex digits (0-9, a-f) "
            f"and nothing else. Give another file, or a new path where a key will be created."
        )
    return raw


@dataclass(frozen=True)
class StoredKey:
    """A pseudonym key and where it lives.

    ``path`` is ``None`` for a key that lives only for this run (no folder
    could take it); ``created`` says it was made just now; ``legacy`` says it
    was found beside the data, where older versions kept it.
    """

    key: bytes
    path: Path | None
    created: bool = False
    legacy: bool = False
    reason: str | None = None  # why a key could not be stored (with ``path`` None)

    def notice(self) -> str | None:
        """One line for the user when the key is new, old-style or not kept; ``None`` otherwise."""
        if self.path is None:
            return (
                f"Note: no pseudonym key could be stored ({self.reason}); this report's labels will not match "
                "later ones. Give a key file with --key FILE."
            )
        if self.created:
            return f"Pseudonym key created in {self.path} (later reports use it too; --key FILE uses another)."
        if self.legacy:
            return f"Using the pseudonym key beside the data ({self.path}); --key FILE moves it elsewhere."
        return None


def _legacy_key_file(data_path: str | os.PathLike | None) -> Path | None:
    if data_path is None:
        return None
    p = Path(data_path)
    folder = p if p.is_dir() or not p.suffix else p.parent
    candidate = folder / KEY_FILE
    return candidate if candidate.is_file() else None


def _create(path: Path) -> bytes:
    """A new key written to ``path`` (mode 0600) whole, unless another process wrote one first."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    new = secrets.token_bytes(KEY_BYTES)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(new.hex() + "\n")
        os.link(tmp, path)  # fails if the key exists: never replaces a key, and never shows half of one
    except FileExistsError:
        return read_key_file(path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return new


def _why(path: Path, exc: OSError) -> str:
    """Why ``path`` could not be created, in words (a file where a folder should be says so)."""
    for folder in path.parents:
        if folder.exists():
            return "Not a directory" if not folder.is_dir() else os.strerror(exc.errno or 0) or type(exc).__name__
    return os.strerror(exc.errno or 0)


def stored_key(key_file: str | os.PathLike | None = None, *, data_path: str | os.PathLike | None = None) -> StoredKey:
    """The pseudonym key to use, and where it lives.

    ``key_file`` when given (created there on first use); else the key
    older versions left beside ``data_path``; else the user's key
    (:func:`default_key_file`), created on first use. When no file can be
    written (a read-only home folder), the key lives for this run only.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "team.key"
    >>> first, again = stored_key(path), stored_key(path)
    >>> first.created, again.created, first.key == again.key, oct(path.stat().st_mode & 0o777)
    (True, False, True, '0o600')
    """
    if key_file is None:
        legacy = _legacy_key_file(data_path)
        if legacy is not None:
            return StoredKey(read_key_file(legacy), legacy, legacy=True)
    path = Path(key_file).expanduser() if key_file is not None else default_key_file()
    if path.is_file():
        return StoredKey(read_key_file(path), path)
    if path.is_dir():
        raise OptionError(f"The key file {path} is a folder; give a file name (a key is created there).")
    try:
        return StoredKey(_create(path), path, created=True)
    except OSError as exc:
        if key_file is not None:
            raise OptionError(
                f"The key file {path} could not be created ({_why(path, exc)}); choose a folder you can write to."
            ) from None
        return StoredKey(secrets.token_bytes(KEY_BYTES), None, reason=f"{path}: {_why(path, exc)}")


def load_or_create_key(
    data_path: str | os.PathLike | None = None,
    *,
    key: str | bytes | None = None,
    key_file: str | os.PathLike | None = None,
) -> bytes:
    """The pseudonym key: ``key`` if given, else the stored one (:func:`stored_key`).

    ``data_path`` is only looked at for a key older versions left beside
    the data; nothing is ever written there.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> load_or_create_key(key="ab" * 16) == bytes.fromhex("ab" * 16)
    True
    >>> k = load_or_create_key(key_file=folder / "k")
    >>> k == load_or_create_key(key_file=folder / "k"), sorted(p.name for p in folder.iterdir())
    (True, ['k'])
    """
    if key is not None:
        return key_bytes(key)
    return stored_key(key_file, data_path=data_path).key
