"""Importers: turn other benchmarks into cibench task suites (`cibench import KIND SRC --out DIR`).

Each importer reads a benchmark's own files and writes task notebooks in the format of
docs/task-format.md into one suite folder, with the data they need in `<out>/data/`. A source
that cannot become a complete task is reported (malformed, needs assets, no reference) and skipped
by default, never a crash. Same input gives byte-identical notebooks. See docs/importers.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ..registry import Registry
from .common import ImportOptions, ImportReport, Skipped


class Importer(Protocol):
    """Reads a benchmark at `src` and writes a cibench suite into `opts.out`."""

    name: str
    description: str

    def run(self, src: Path, opts: ImportOptions) -> ImportReport: ...


#: `cibench.importers` entry points: cibench's own (cibench, cruxeval, qwen-agent, pybench; declared
#: in setup.cfg) and plugins' (classes, instantiated on use)
IMPORTERS: Registry[Importer] = Registry("importer", hint="cibench import --help")


def get_importer(name: str) -> Importer:
    found = IMPORTERS.get(name)
    return found() if isinstance(found, type) else found


def import_suite(kind: str, src: str | Path, opts: ImportOptions) -> ImportReport:
    """Run the importer `kind` on `src`; writes into `opts.out` and returns what it did."""
    return get_importer(kind).run(Path(src), opts)


__all__ = ["IMPORTERS", "ImportOptions", "ImportReport", "Importer", "Skipped", "get_importer",
           "import_suite"]
