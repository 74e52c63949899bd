"""Task notebooks: parse a `.ipynb` in the cibench task format into a `Task` of ordered `Step`s.

The format is documented in docs/task-format.md. In short: notebook metadata `cibench` declares
the task; each markdown cell opens a step (the user's instruction); the code cells up to the next
markdown cell are that step's reference; a code cell tagged `check` is the step's hidden test;
code cells tagged `setup` or `parameters` run before the session and are never shown to the model.
A task whose cells do not match its declared steps is refused with the notebook and cell index.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

import nbformat

from .errors import TaskFormatError

log = logging.getLogger(__name__)

TASK_SCHEMA_VERSION = 1
StepType = Literal["exec", "num", "text", "vis", "check"]
STEP_TYPES: tuple[str, ...] = get_args(StepType)
SETUP_TAGS = {"setup", "parameters"}
IGNORED_TAG = "note"  # markdown cells tagged `note` are comments for authors, not steps


@dataclass(frozen=True)
class Step:
    index: int  # 1-based
    type: StepType
    instruction: str
    reference: str  # the reference code cells joined
    checks: tuple[str, ...] = ()
    module: str = ""  # the modules CIBench appends as a hint ("pandas", "seaborn&numpy")
    options: dict[str, Any] = field(default_factory=dict)  # cell metadata cibench: tolerance, ...
    cell: int = 0  # index of the instruction cell in the notebook


@dataclass(frozen=True)
class Task:
    id: str  # "<suite>/<name>", e.g. "demo/iris-basics"
    path: Path
    title: str
    module: str
    difficulty: str
    language: str
    steps: tuple[Step, ...]
    setup: tuple[str, ...] = ()
    sha256: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    def missing_assets(self) -> list[str]:
        """Files the task declares it needs (`cibench.needs_assets`, set by importers when the
        benchmark's copy lacked them) that are still not beside the notebook."""
        declared = self.metadata.get("needs_assets") or []
        return [rel for rel in declared if isinstance(rel, str)
                and not (self.folder / rel).exists()]


TASK_ID_RE = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")


def task_id_for(path: Path, meta: dict[str, Any] | None = None) -> str:
    """`cibench.task_id` when the notebook declares one (importers do, so ids stay unique
    across splits whatever folder is passed), else `<folder>/<file stem>`."""
    declared = (meta or {}).get("task_id")
    if declared is None:
        return f"{path.parent.name}/{path.stem}"
    if not isinstance(declared, str) or not TASK_ID_RE.fullmatch(declared) \
            or any(part in (".", "..") for part in declared.split("/")):
        raise TaskFormatError(f"cibench.task_id {declared!r} is not a relative path of "
                              "letters, digits, '.', '_' and '-'", path=path)
    return declared


def _tags(cell: Any) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []) or [])


def _source_hash(nb: Any, folder: Path) -> str:
    """Hash of what determines ground truth: cell sources, tags, task metadata and data files."""
    h = hashlib.sha256()
    h.update(json.dumps(nb.metadata.get("cibench", {}), sort_keys=True).encode())
    for cell in nb.cells:
        h.update(cell.cell_type.encode())
        h.update(json.dumps(sorted(_tags(cell))).encode())
        h.update(json.dumps(cell.get("metadata", {}).get("cibench", {}), sort_keys=True).encode())
        h.update(cell.source.encode())
    data = folder / "data"
    if data.is_dir():
        for file in sorted(p for p in data.rglob("*") if p.is_file()):
            h.update(str(file.relative_to(folder)).encode())
            with file.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


def _read_notebook(path: Path) -> Any:
    """The notebook at `path`, or TaskFormatError when it is missing or not a notebook."""
    if not path.is_file():
        raise TaskFormatError("no such task notebook", path=path,
                              hint="pass a .ipynb file or a folder of them")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises several kinds; all mean "not a notebook"
        raise TaskFormatError(f"not a readable notebook: {exc}".splitlines()[0], path=path) from exc


def _task_meta(nb: Any, path: Path) -> tuple[dict[str, Any], list[Any], list[Any]]:
    """(metadata `cibench`, its step types, one module per step), checked."""
    meta = nb.metadata.get("cibench")
    if not isinstance(meta, dict):
        raise TaskFormatError("notebook metadata has no `cibench` section", path=path,
                              hint="see docs/task-format.md")
    version = meta.get("schema_version", TASK_SCHEMA_VERSION)
    if version != TASK_SCHEMA_VERSION:
        raise TaskFormatError(f"task schema_version {version} is not supported "
                              f"(this cibench reads {TASK_SCHEMA_VERSION})", path=path)
    step_types = meta.get("step_types")
    if not isinstance(step_types, list) or not step_types:
        raise TaskFormatError("metadata cibench.step_types must be a non-empty list", path=path)
    for i, kind in enumerate(step_types, 1):
        if kind not in STEP_TYPES:
            raise TaskFormatError(f"unknown step type {kind!r}; use one of {', '.join(STEP_TYPES)}",
                                  path=path, step=i)
    modules = meta.get("modules") or [meta.get("module", "")] * len(step_types)
    if len(modules) != len(step_types):
        raise TaskFormatError(f"cibench.modules has {len(modules)} entries but step_types has "
                              f"{len(step_types)}", path=path)
    return meta, step_types, modules


def _split_cells(nb: Any, path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """(setup cells, raw steps): each raw step is its markdown cell's index, instruction,
    reference code cells, check cells and cell options."""
    setup: list[str] = []
    raw_steps: list[dict[str, Any]] = []
    for idx, cell in enumerate(nb.cells):
        tags = _tags(cell)
        if cell.cell_type == "raw":
            continue
        if cell.cell_type == "markdown":
            if IGNORED_TAG in tags:
                continue
            if raw_steps and not raw_steps[-1]["code"]:
                prev = raw_steps[-1]["cell"]
                raise TaskFormatError("instruction has no reference code cell before the next "
                                      "instruction", path=path, cell=prev,
                                      hint="add a code cell, merge the two markdown cells, or tag "
                                           "one `note`")
            raw_steps.append({"cell": idx, "instruction": cell.source.strip(), "code": [],
                              "checks": [], "options": dict(cell.metadata.get("cibench", {}))})
            continue
        if tags & SETUP_TAGS:
            setup.append(cell.source)
        elif not raw_steps:
            raise TaskFormatError("code cell before the first instruction", path=path, cell=idx,
                                  hint="tag it `setup` or put a markdown instruction above it")
        elif "check" in tags:
            raw_steps[-1]["checks"].append(cell.source)
        elif raw_steps[-1]["checks"]:
            raise TaskFormatError("reference code after the step's `check` cell", path=path,
                                  cell=idx, hint="put `check` cells last in their step")
        else:
            raw_steps[-1]["code"].append(cell.source)
    if raw_steps and not raw_steps[-1]["code"]:
        raise TaskFormatError("last instruction has no reference code cell", path=path,
                              cell=raw_steps[-1]["cell"])
    return setup, raw_steps


def _build_steps(raw_steps: list[dict[str, Any]], step_types: list[Any], modules: list[Any],
                 path: Path) -> list[Step]:
    """The `Step`s of the raw steps, checked against the declared step types."""
    if len(raw_steps) != len(step_types):
        where = raw_steps[len(step_types)]["cell"] if len(raw_steps) > len(step_types) else None
        raise TaskFormatError(f"{len(raw_steps)} steps in the cells but cibench.step_types "
                              f"declares {len(step_types)}", path=path, cell=where,
                              hint="one markdown instruction per step; tag comments `note`")
    steps = []
    for i, (raw, kind, module) in enumerate(zip(raw_steps, step_types, modules, strict=False), 1):
        if not raw["instruction"]:
            raise TaskFormatError("empty instruction", path=path, cell=raw["cell"])
        declared = raw["options"].get("type")
        if declared and declared != kind:
            raise TaskFormatError(f"cell says type {declared!r}, step_types says {kind!r}",
                                  path=path, cell=raw["cell"], step=i)
        if kind == "check" and not raw["checks"]:
            raise TaskFormatError("a `check` step needs a code cell tagged `check`", path=path,
                                  cell=raw["cell"], step=i)
        steps.append(Step(index=i, type=cast(StepType, kind), instruction=raw["instruction"],
                          reference="\n".join(s.rstrip() for s in raw["code"]).strip("\n"),
                          checks=tuple(raw["checks"]), module=str(module),
                          options=raw["options"], cell=raw["cell"]))
    return steps


def load_task(path: str | Path) -> Task:
    """Read and check a task notebook; raise TaskFormatError naming the file and cell."""
    path = Path(path)
    nb = _read_notebook(path)
    meta, step_types, modules = _task_meta(nb, path)
    setup, raw_steps = _split_cells(nb, path)
    steps = _build_steps(raw_steps, step_types, modules, path)
    return Task(id=task_id_for(path, meta), path=path, title=str(meta.get("title", path.stem)),
                module=str(meta.get("module", "")), difficulty=str(meta.get("difficulty", "")),
                language=str(meta.get("language", "en")), steps=tuple(steps), setup=tuple(setup),
                sha256=_source_hash(nb, path.parent), metadata=dict(meta))


def find_task_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Expand folders into the task notebooks they hold (sorted), keeping file arguments."""
    found: list[Path] = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            # run folders (they hold a run.json) inside a suite hold session notebooks, not tasks
            runs = {r.parent for r in p.rglob("run.json")}
            nbs = sorted(q for q in p.rglob("*.ipynb")
                         if ".ipynb_checkpoints" not in q.parts
                         and "data" not in q.relative_to(p).parts
                         and not any(r in q.parents for r in runs))
            if not nbs:
                raise TaskFormatError("folder holds no task notebooks", path=p)
            found.extend(nbs)
        elif p.is_file():
            found.append(p)
        else:
            raise TaskFormatError("no such file or folder", path=p)
    return found


def load_tasks(paths: Sequence[str | Path]) -> list[Task]:
    tasks = [load_task(p) for p in find_task_paths(paths)]
    seen: dict[str, Path] = {}
    for task in tasks:
        if task.id in seen:
            raise TaskFormatError(f"task id {task.id!r} also used by {seen[task.id]}",
                                  path=task.path, hint="rename one notebook")
        seen[task.id] = task.path
    return tasks
