"""The arrows of docs/architecture.md hold: every import of every module under numgan/, read
from the source (ast), points the way the page says.

    app -> gan -> nn -> kernels;  app -> data, eval;  gan -> data (as_data, check_labels);
    kernels and fileio import nothing of numgan; eval only fileio; data nothing of nn, gan,
    app or eval; only app and numgan/__main__.py import app.

Imports inside functions and under ``if TYPE_CHECKING:`` count like any other.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "numgan"
PARTS = ("kernels", "nn", "gan", "data", "eval", "app", "fileio")
TOP = "numgan"  # the package's own __init__.py: importing it imports gan, nn, data, kernels


@dataclass(frozen=True)
class Import:
    path: str  # the importing file, relative to the repository
    line: int
    source: str  # the part the file belongs to: kernels, nn, ..., or __init__/__main__
    target: str  # the part it imports: one of PARTS, or TOP
    module: str  # the dotted module imported from
    names: tuple[str, ...]  # the names a "from ... import" takes

    def __str__(self) -> str:
        what = f"from {self.module} import {', '.join(self.names)}" if self.names else self.module
        return f"{self.path}:{self.line}: {what}"


def part_of(path: Path) -> str:
    """kernels, nn, ... for a module of a subpackage, or fileio; __init__/__main__ at the top."""
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def target_of(dotted: str) -> str | None:
    """The part a dotted module name points into, TOP for the package itself, None if outside."""
    parts = dotted.split(".")
    if parts[0] != "numgan":
        return None
    return parts[1] if len(parts) > 1 else TOP


def imports_of(path: Path) -> list[Import]:
    rel = path.relative_to(PACKAGE.parent)
    package = list(rel.parts[:-1])  # numgan/gan/trainer.py and numgan/gan/__init__.py: numgan.gan
    found = []

    def add(node: ast.stmt, dotted: str, names: tuple[str, ...] = ()) -> None:
        target = target_of(dotted)
        if target is not None:
            found.append(Import(str(rel), node.lineno, part_of(path), target, dotted, names))

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(node, alias.name)
        elif isinstance(node, ast.ImportFrom):
            names = tuple(alias.name for alias in node.names)
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                dotted = ".".join(base + ([node.module] if node.module else []))
            else:
                dotted = node.module or ""
            if target_of(dotted) == TOP:  # "from numgan import nn" or "from .. import kernels"
                for name in names:
                    sub = f"numgan.{name}"
                    is_part = name in PARTS
                    add(node, sub if is_part else dotted, () if is_part else (name,))
            else:
                add(node, dotted, names)
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))
IMPORTS = [imp for path in MODULES for imp in imports_of(path)]

# What each part may import of numgan (itself included).  app may import anything.
ALLOWED = {
    "kernels": {"kernels"},
    "fileio": set(),
    "nn": {"nn", "kernels"},
    "gan": {"gan", "nn", "kernels", "data", "fileio"},
    "eval": {"eval", "fileio"},
}
FORBIDDEN = {"data": {"nn", "gan", "app", "eval", TOP}}


def violations(source: str) -> list[Import]:
    allowed = ALLOWED.get(source)
    forbidden = FORBIDDEN.get(source, set())
    return [
        imp
        for imp in IMPORTS
        if imp.source == source
        and ((allowed is not None and imp.target not in allowed) or imp.target in forbidden)
    ]


def test_every_module_belongs_to_a_part_the_page_names():
    unknown = {str(p.relative_to(ROOT)) for p in MODULES} - {
        str(p.relative_to(ROOT))
        for p in MODULES
        if part_of(p) in PARTS or part_of(p) in ("__init__", "__main__")
    }
    assert not unknown, f"modules outside the parts of docs/architecture.md: {sorted(unknown)}"


def test_the_import_reader_sees_the_arrows_that_exist():
    """A negative control for the reader itself: known imports are found, relative ones too."""
    edges = {(imp.source, imp.target) for imp in IMPORTS}
    assert {("nn", "kernels"), ("gan", "nn"), ("gan", "data"), ("app", "gan")} <= edges
    assert ("eval", "fileio") in edges and ("__main__", "app") in edges


@pytest.mark.parametrize("source", [*ALLOWED, *FORBIDDEN])
def test_part_imports_only_what_it_may(source):
    bad = violations(source)
    rule = (
        f"may import only {sorted(ALLOWED[source]) or 'nothing'} of numgan"
        if source in ALLOWED
        else f"must not import {sorted(FORBIDDEN[source])}"
    )
    assert not bad, f"numgan/{source} {rule}:\n" + "\n".join(map(str, bad))


def test_nothing_but_app_and_main_imports_app():
    bad = [imp for imp in IMPORTS if imp.target == "app" and imp.source not in ("app", "__main__")]
    assert not bad, "only numgan/app and numgan/__main__.py import numgan.app:\n" + "\n".join(
        map(str, bad)
    )


ALLOWED_FROM_DATA = {"as_data", "check_labels", "ArrayData"}


def test_gan_takes_only_the_sampling_protocol_from_data():
    """gan -> data is the sampling protocol alone: as_data turns an array into a source,
    check_labels validates a conditional GAN's labels, and ArrayData is recognised so that the
    fused step can draw its rows itself; datasets, files and pixel ranges stay with the
    application."""
    bad = [
        imp
        for imp in IMPORTS
        if imp.source == "gan"
        and imp.target == "data"
        and (not imp.names or set(imp.names) - ALLOWED_FROM_DATA)  # a whole module counts
    ]
    assert not bad, (
        "numgan/gan may take only as_data, check_labels and ArrayData from numgan.data:\n"
        + "\n".join(map(str, bad))
    )


def test_the_architecture_page_lists_every_module():
    """docs/architecture.md's tree names every module by its path (tests/test_docs.py checks
    that every path it names exists), so the page matches the tree."""
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^(numgan/\S+\.py)\s", page, re.M))
    modules = {str(p.relative_to(ROOT)) for p in MODULES}
    assert not modules - listed, f"not on the page's tree: {sorted(modules - listed)}"
    assert not listed - modules, (
        f"on the page's tree but not in numgan/: {sorted(listed - modules)}"
    )
