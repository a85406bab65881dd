"""The package's layers: a module imports only from its own part or from layers below it.

Measures never import the report or the command line; readers never import measures; the
command line is the top. Every import counts, also those inside functions (which are how a
cycle hides). A new top-level part must be placed in a layer here, on purpose.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

#: Lowest first. A part may import from its own layer's other parts only where listed in ALLOWED.
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(names.split())
    for names in (
        "errors wording deprecation schema",
        "options data engine pseudonym_key",
        "output privacy visits synth validate",
        "readers measures",
        "batches outcomes summary windows",
        "reporting",
        "run",
        "demo",
        "cli",
        "cli_reference __main__",
    )
)
#: Imports inside one layer, each for a reason.
ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        ("synth", "output"),  # the generator's files are written whole or not at all, like every output
    }
)


def layer_of(part: str) -> int:
    for rank, names in enumerate(LAYERS):
        if part in names:
            return rank
    raise AssertionError(f"carethread.{part} is in no layer of tests/test_layers.py: place it on purpose")


def imports_of(path: Path, module: str) -> set[str]:
    """Every carethread module ``path`` imports, at the top or inside a function, absolute or relative."""
    found = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
    return {name for name in found if name.split(".")[0] == "carethread"}


def part_of(module: str) -> str | None:
    """``carethread.measures.panels`` → ``measures``; the package itself (the facade) → None."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def modules() -> dict[str, Path]:
    found = {}
    for path in (SRC / "carethread").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def test_every_import_goes_down_the_layers():
    wrong = []
    for module, path in sorted(modules().items()):
        here = part_of(module)
        if here is None:
            continue  # carethread/__init__.py re-exports the public API from every layer
        for target in sorted(imports_of(path, module)):
            there = part_of(target)
            if there is None or there == here:
                continue
            if layer_of(there) < layer_of(here) or (here, there) in ALLOWED:
                continue
            wrong.append(f"{module} imports {target} (layer {layer_of(there)} from layer {layer_of(here)})")
    assert not wrong, "imports that go up or sideways:\n" + "\n".join(wrong)


def test_the_layer_rule_sees_imports_inside_functions(tmp_path):
    """The checker finds a function-local relative import: the kind that hides an upward dependency."""
    package = tmp_path / "carethread" / "measures"
    package.mkdir(parents=True)
    path = package / "x.py"
    path.write_text("def f():\n    from ..reporting import pipeline\n    import carethread.cli\n")
    assert imports_of(path, "carethread.measures.x") == {"carethread.reporting", "carethread.cli"}


def test_the_old_summary_module_is_a_deprecated_alias():
    import importlib
    import sys

    import pytest

    sys.modules.pop("carethread.summary", None)
    with pytest.warns(DeprecationWarning, match="carethread.measures.dependence"):
        old = importlib.import_module("carethread.summary")
    from carethread.measures.dependence import who_needs_whom

    assert old.who_needs_whom is who_needs_whom
