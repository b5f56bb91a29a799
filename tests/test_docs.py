"""The docs cannot go stale: every fenced block of docs/*.md runs, or is checked against the
source it quotes, and every path a page names exists (numgan/gan/trainer.py, and with a
function or class after a colon, numgan/gan/trainer.py:Trainer._step, that it is defined there).

A page marks a block with an HTML comment on the line right before its fence (GitHub shows
nothing of it):

    <!-- excerpt: numgan/gan/trainer.py Trainer.d_step -->
        The block quotes that file (within that class or function, if one is named).  Its
        lines must appear there in the same order and consecutively, compared with runs of
        whitespace collapsed and blank lines ignored; a line "..." stands for any run of
        source lines.  Any fence may be an excerpt: code, or a docstring quoted as text.

    <!-- output -->
        The block is exactly what the python block before it printed.  Only for output that
        repeats on any machine and both backends; printed round-off goes in an unmarked text
        block, shown as one run's.

Every other ```python block runs: the blocks of one page in order, in one namespace, in a
scratch folder (they may write files).  Blocks of other languages (text, bash) are prose.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").glob("*.md"))

FENCE = re.compile(r"^(`{3,}|~{3,})\s*([\w+-]*)")
MARKER = re.compile(r"^<!--\s*(excerpt|output)\b:?\s*(.*?)\s*-->\s*$")
# A path a page names (numgan/gan/, numgan/gan/trainer.py), optionally with a :Qualified.name.
REFERENCE = re.compile(r"\b((?:numgan|tests|benchmarks|docs)/[\w/.-]*[\w/])(?::(\w[\w.]*\w))?")
# Folders .gitignore keeps out of the repository hold what commands write (benchmarks/results/):
# a page may name a file there that does not exist until the command runs.
OUTPUTS = tuple(
    line.strip()
    for line in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    if line.strip().endswith("/") and not set(line) & set("*?[!#")
)


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the first line inside the fence
    lang: str
    text: str
    marker: str | None  # "excerpt", "output" or None
    target: str  # the marker's argument: "path [Qualname]" for an excerpt

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def parse(page: Path) -> list[Block]:
    """The fenced blocks of a page, with the marker on the line before each fence."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            marker = MARKER.match(lines[i].strip())
            if marker and not (i + 1 < len(lines) and FENCE.match(lines[i + 1])):
                pytest.fail(f"{page.name}:{i + 1}: a marker must stand right before a fence")
            i += 1
            continue
        fence, lang = opening.groups()
        marker = MARKER.match(lines[i - 1].strip()) if i > 0 else None
        end = i + 1
        while end < len(lines) and not lines[end].startswith(fence):
            end += 1
        if end == len(lines):
            pytest.fail(f"{page.name}:{i + 1}: the fence opened here is never closed")
        blocks.append(
            Block(
                page=page,
                line=i + 2,
                lang=lang.lower(),
                text="\n".join(lines[i + 1 : end]) + "\n",
                marker=marker.group(1) if marker else None,
                target=marker.group(2) if marker else "",
            )
        )
        i = end + 1
    return blocks


BLOCKS = {page.name: parse(page) for page in PAGES}
EXCERPTS = [b for blocks in BLOCKS.values() for b in blocks if b.marker == "excerpt"]


def normalise(text: str) -> list[str]:
    """Non-blank lines with runs of whitespace collapsed (indentation does not count)."""
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def source_scope(path: Path, qualname: str) -> str | None:
    """The text of ``qualname`` (a class, function or method, dotted) in ``path``; the whole
    file for ""; None if the file defines no such thing."""
    text = path.read_text(encoding="utf-8")
    if not qualname:
        return text
    body, node = ast.parse(text).body, None
    defs = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for name in qualname.split("."):
        node = next((n for n in body if isinstance(n, defs) and n.name == name), None)
        if node is None:
            return None
        body = node.body
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return "\n".join(text.splitlines()[start - 1 : node.end_lineno])


def find_excerpt(excerpt: list[str], source: list[str]) -> str | None:
    """None if the excerpt's runs (split at "...") occur in order in source; else the first
    excerpt line that does not follow (after the longest part of its run that does)."""
    runs, run = [], []
    for line in excerpt:
        if line in ("...", "# ..."):
            runs.append(run)
            run = []
        else:
            run.append(line)
    runs.append(run)
    start = 0
    for run in filter(None, runs):
        best, best_at = -1, None
        for i in range(start, len(source)):
            n = 0
            while n < len(run) and i + n < len(source) and source[i + n] == run[n]:
                n += 1
            if n == len(run):
                best_at = i
                break
            best = max(best, n)
        if best_at is None:
            return run[max(best, 0)]
        start = best_at + len(run)
    return None


def test_the_docs_have_pages_and_excerpts():
    assert {"algorithm1.md", "backprop.md", "architecture.md"} <= set(BLOCKS)
    assert EXCERPTS


@pytest.mark.parametrize("block", EXCERPTS, ids=[b.where for b in EXCERPTS])
def test_excerpt_matches_the_source(block):
    path, _, qualname = block.target.partition(" ")
    source = ROOT / path
    assert path and source.is_file(), f"{block.where}: the excerpt names no file: {path!r}"
    excerpt = normalise(block.text)
    assert excerpt, f"{block.where}: empty excerpt"
    scope = source_scope(source, qualname.strip())
    assert scope is not None, f"{block.where}: {path} defines no {qualname}"
    missing = find_excerpt(excerpt, normalise(scope))
    assert missing is None, (
        f"{block.where}: the excerpt of {block.target} differs from the source from this "
        f"line on: {missing!r}"
    )


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    printed = None  # what the last python block printed
    for block in BLOCKS[page.name]:
        if block.marker == "output":
            assert printed is not None, f"{block.where}: an output block must follow a python block"
            assert printed == block.text, (
                f"{block.where}: the python block above printed\n{printed}"
                f"but the page shows\n{block.text}"
            )
            printed = None
        elif block.lang == "python" and block.marker is None:
            # Pad so that a traceback's line numbers are the page's.
            code = compile("\n" * (block.line - 1) + block.text, str(block.page), "exec")
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                exec(code, namespace)
            printed = buffer.getvalue()
        elif block.lang == "python" and block.marker != "excerpt":
            pytest.fail(f"{block.where}: a python block either runs or is an excerpt")


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_names_files_and_functions_that_exist(page):
    """Paths like numgan/gan/, numgan/gan/trainer.py and numgan/gan/trainer.py:Trainer._step
    name what is there (except in the folders of OUTPUTS)."""
    stale = []
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        for path, qualname in REFERENCE.findall(line):
            target = ROOT / path
            if path.startswith(OUTPUTS):
                continue
            if not target.exists():
                stale.append(f"line {number}: {path} does not exist")
            elif qualname and path.endswith(".py") and source_scope(target, qualname) is None:
                stale.append(f"line {number}: {path} defines no {qualname}")
    assert not stale, f"{page.name} names what is not there:\n" + "\n".join(stale)
