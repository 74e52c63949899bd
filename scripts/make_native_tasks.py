"""Build the native suite's notebooks (notebooks/native/*.ipynb) from the task definitions in
scripts/native_tasks/*.py.

    python scripts/make_native_tasks.py          # writes every notebook
    python scripts/make_native_tasks.py tips     # only tasks whose name contains "tips"

Each definition is plain data: a task name, its `cibench` metadata and its steps (instruction,
reference code, optional hidden check, optional per-step options). The notebooks are ordinary
nbformat-4 notebooks with stable cell ids (`stepNN-instruction`, `stepNN-reference`,
`stepNN-check`): edit them in JupyterLab if you like, but edits are overwritten the next time
this script runs, so change the definition instead.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "notebooks" / "native"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from native_tasks import Task  # noqa: E402

STEP_TYPES = {"exec", "num", "text", "vis", "check"}


def build(task: Task) -> nbformat.NotebookNode:
    assert 5 <= len(task.steps) <= 12, (task.name, len(task.steps))
    cells = []
    for i, step in enumerate(task.steps, 1):
        assert step.type in STEP_TYPES, (task.name, i, step.type)
        assert step.type != "check" or step.check, (task.name, i, "check step without check")
        md = new_markdown_cell(step.instruction, id=f"step{i:02d}-instruction")
        if step.options:
            md.metadata["cibench"] = dict(step.options)
        cells.append(md)
        cells.append(new_code_cell(step.code, id=f"step{i:02d}-reference"))
        if step.check:
            cells.append(new_code_cell(step.check, id=f"step{i:02d}-check",
                                       metadata={"tags": ["check"]}))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python",
                                 "name": "python3"}
    nb.metadata["cibench"] = {
        "schema_version": 1, "title": task.title, "module": task.module,
        "difficulty": task.difficulty, "language": task.language,
        "step_types": [s.type for s in task.steps], "modules": [s.module for s in task.steps],
    }
    nbformat.validate(nb)
    return nb


def all_tasks() -> list[Task]:
    import native_tasks

    tasks: list[Task] = []
    for info in sorted(pkgutil.iter_modules(native_tasks.__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"native_tasks.{info.name}")
        tasks.extend(mod.TASKS)
    names = [t.name for t in tasks]
    assert len(names) == len(set(names)), "duplicate task names"
    return tasks


def main(argv: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for task in all_tasks():
        if argv and not any(a in task.name for a in argv):
            continue
        path = OUT / f"{task.name}.ipynb"
        nbformat.write(build(task), path)
        print(f"{path.relative_to(ROOT)}: {len(task.steps)} steps")


if __name__ == "__main__":
    main(sys.argv[1:])
