"""Checks made before anything runs or is written, so bad input fails in a second with one line.

- `check_data_files`: a task whose code reads a file under `data/` that the task folder lacks
  (e.g. `pd.read_csv("data/sales.csv")` with no `data/sales.csv` beside the notebook).
- `set_aside_needing_assets`: imported tasks that declare files their benchmark's copy lacked
  (`cibench.needs_assets`) are skipped, with that reason, until the files are in place.
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path

from .errors import TaskFormatError
from .task import Task

log = logging.getLogger(__name__)


def set_aside_needing_assets(tasks: list[Task]) -> tuple[list[Task], dict[str, str]]:
    """(tasks that can run, {task id: "needs assets: data/..."} for the others)."""
    ready, waiting = [], {}
    for task in tasks:
        missing = task.missing_assets()
        if missing:
            waiting[task.id] = (f"needs assets: {', '.join(missing)} (put them in "
                                f"{task.folder}/data/; no re-import needed)")
            log.info("%s: %s", task.id, waiting[task.id])
        else:
            ready.append(task)
    return ready, waiting


def preflight_tasks(tasks: list[Task]) -> tuple[list[Task], dict[str, str]]:
    """Set aside tasks waiting for assets, then refuse (one line) any other task whose data
    files are missing; returns what can run and what was set aside."""
    ready, waiting = set_aside_needing_assets(tasks)
    for task in ready:
        check_data_files(task)
    if tasks and not ready:
        raise TaskFormatError(f"none of the {len(tasks)} tasks can run: all need assets "
                              f"(first: {next(iter(waiting.values()))})", path=tasks[0].folder)
    return ready, waiting

READERS = {"read_csv", "read_table", "read_excel", "read_json", "read_parquet", "read_feather",
           "read_pickle", "read_fwf", "read_html", "read_xml", "read_sas", "read_stata",
           "read_spss", "loadtxt", "genfromtxt", "load", "fromfile", "imread", "open",
           "read_file", "load_workbook", "read", "read_text", "read_bytes"}


def _literals(code: str) -> set[str]:
    """Every string literal under data/ in the code (read or not)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {n.value.removeprefix("./") for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and n.value.removeprefix("./").startswith("data/")}


def _read_paths(code: str) -> list[str]:
    """String literals under data/ passed as the first argument of a reading call."""
    try:
        tree = ast.parse(code)
    except SyntaxError:  # IPython magics and the like: nothing to say statically
        return []
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else \
            func.id if isinstance(func, ast.Name) else ""
        if name not in READERS:
            continue
        if name == "open" and len(node.args) > 1:
            mode = node.args[1]
            if isinstance(mode, ast.Constant) and isinstance(mode.value, str) \
                    and set(mode.value) & set("wax"):
                continue
        if any(k.arg == "mode" and isinstance(k.value, ast.Constant)
               and set(str(k.value.value)) & set("wax") for k in node.keywords):
            continue
        arg = node.args[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            path = arg.value.removeprefix("./")
            if path.startswith("data/") and "*" not in path and "{" not in path:
                found.append(path)
    return found


def check_data_files(task: Task) -> None:
    """Raise TaskFormatError naming the notebook, cell and file when a read input is missing
    (a file that the task's own code also writes somewhere is not an input)."""
    codes = [*task.setup, *(c for s in task.steps for c in (s.reference, *s.checks))]
    written: set[str] = set()
    for code in codes:
        reads = _read_paths(code)
        written |= {lit for lit in _literals(code) if reads.count(lit) < 1}
    for code in task.setup:
        for rel in _read_paths(code):
            if rel not in written and not (task.folder / rel).exists():
                raise TaskFormatError(f"a setup cell reads {rel}, which does not exist "
                                      f"(looked for {task.folder / rel})", path=task.path,
                                      hint="add the file to the task's data/ folder or fix the "
                                           "path")
    for step in task.steps:
        for code in (step.reference, *step.checks):
            for rel in _read_paths(code):
                if rel not in written and not (task.folder / rel).exists():
                    raise TaskFormatError(f"the reference reads {rel}, which does not exist "
                                          f"(looked for {Path(task.folder) / rel})",
                                          path=task.path, cell=step.cell, step=step.index,
                                          hint="add the file to the task's data/ folder or fix "
                                               "the path")
