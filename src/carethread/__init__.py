"""carethread: measure, explain and protect the doctor-patient relationship."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("carethread")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0+unknown"
