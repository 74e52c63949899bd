"""What every importer shares: options, the report, deterministic notebook building and writing."""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from ..errors import CibenchError
from ..fsutil import atomic_write_text
from ..task import TASK_SCHEMA_VERSION

log = logging.getLogger(__name__)

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


class ImportSourceError(CibenchError):
    """The benchmark source given to an importer is missing or unreadable as a whole."""


@dataclass
class ImportOptions:
    out: Path
    language: str = "en"
    include_incomplete: bool = False  # write tasks that need assets / have no reference anyway
    limit: int | None = None  # at most this many tasks written
    ids: list[str] | None = None  # only these source ids
    task: str = "output"  # cruxeval: output | input prediction


@dataclass(frozen=True)
class Skipped:
    source: str  # file (and cell / line) it came from
    reason: str  # "malformed", "needs assets", "no reference", "filtered"
    detail: str


@dataclass
class ImportReport:
    kind: str
    out: Path
    written: list[Path] = field(default_factory=list)
    incomplete: list[Skipped] = field(default_factory=list)  # written, marked (needs assets, ...)
    skipped: list[Skipped] = field(default_factory=list)
    data_files: int = 0

    def counts(self) -> dict[str, int]:
        c = Counter(s.reason for s in self.skipped)
        return {"written": len(self.written), "incomplete": len(self.incomplete),
                **{k: c[k] for k in sorted(c)}}

    def summary(self) -> str:
        """One line: what was written and what was skipped, by reason."""
        c = Counter(s.reason for s in self.skipped)
        skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(c.items()))
        marked = Counter(s.reason for s in self.incomplete)
        extra = (" (" + ", ".join(f"{n} marked {reason}" for reason, n in sorted(marked.items()))
                 + ")" if marked else "")
        return (f"{self.kind}: wrote {len(self.written)} tasks{extra} and {self.data_files} data "
                f"files to {self.out}; skipped {len(self.skipped)}"
                + (f" ({skipped})" if skipped else ""))


def slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text.strip()).strip("-.")
    return s or "task"


def _cell_id(task_key: str, index: int) -> str:
    return hashlib.sha1(f"{task_key}\0{index}".encode()).hexdigest()[:12]


@dataclass
class StepSpec:
    type: str
    instruction: str
    reference: list[str]  # code cells
    checks: list[str] = field(default_factory=list)
    module: str = ""
    options: dict[str, Any] = field(default_factory=dict)


def build_notebook(task_key: str, steps: list[StepSpec], meta: dict[str, Any], *,
                   setup: Sequence[str] = (), notes: Sequence[str] = ()) -> Any:
    """A task notebook with stable cell ids (a hash of the task key and cell position)."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["cibench"] = {"schema_version": TASK_SCHEMA_VERSION, **meta,
                              "step_types": [s.type for s in steps],
                              "modules": [s.module for s in steps]}
    cells = []
    for text in notes:
        cells.append(new_markdown_cell(text, metadata={"tags": ["note"]}))
    for code in setup:
        cells.append(new_code_cell(code, metadata={"tags": ["setup"]}))
    for s in steps:
        md = {"cibench": dict(s.options)} if s.options else {}
        cells.append(new_markdown_cell(s.instruction, metadata=md))
        for code in s.reference:
            cells.append(new_code_cell(code))
        for code in s.checks:
            cells.append(new_code_cell(code, metadata={"tags": ["check"]}))
    for i, cell in enumerate(cells):
        cell["id"] = _cell_id(task_key, i)
    nb.cells = cells
    nbformat.validate(nb)
    return nb


def write_notebook(path: Path, nb: Any) -> None:
    text = nbformat.writes(nb, version=4)
    if not text.endswith("\n"):
        text += "\n"
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return  # unchanged: keep the file (and its mtime) as it is
    atomic_write_text(path, text)


def copy_data(src: Path, dest: Path) -> bool:
    """Copy a data file or folder into the suite's data/ (skipping identical files)."""
    if src.is_dir():
        copied = False
        for f in sorted(p for p in src.rglob("*") if p.is_file()):
            copied |= copy_data(f, dest / f.relative_to(src))
        return copied
    if dest.is_file() and dest.stat().st_size == src.stat().st_size \
            and dest.read_bytes() == src.read_bytes():
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dest)
    return True


def wanted(source_id: str, opts: ImportOptions) -> bool:
    return opts.ids is None or source_id in opts.ids


def check_out(opts: ImportOptions) -> Path:
    out = Path(opts.out)
    if out.exists() and not out.is_dir():
        raise ImportSourceError("--out exists and is not a folder", path=out)
    out.mkdir(parents=True, exist_ok=True)
    return out
