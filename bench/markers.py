"""Write one benchmark's block into ``bench/RESULTS.md`` between its markers, keeping the rest of the file."""

from __future__ import annotations

from pathlib import Path

RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"


def write_block(name: str, script: str, body: str, heading: str) -> None:
    """Replace the text between ``<!-- name:begin ... -->`` and ``<!-- name:end -->`` with ``body``.

    Without those markers yet, the block is appended under ``heading``.
    """
    begin, end = f"<!-- {name}:begin (written by bench/{script}) -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{body}\n{end}"
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else "# carethread benchmark results\n"
    if begin in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n## {heading}\n\n" + block + "\n"
    RESULTS_MD.write_text(text)
