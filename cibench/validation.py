"""`cibench validate PATH --report FILE.md`: a table of what validates, per split × module.

Each task lands in exactly one column: validated, needs assets (files its benchmark's copy
lacks), needs network (its reference downloads and failed offline), missing module (an
ImportError in the kernel), reference error (by exception), or non-deterministic (it validated,
but a second, independent run of its references gave other outputs).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .errors import GroundTruthError
from .fsutil import atomic_write_text
from .groundtruth import GroundTruth, build_truth
from .task import Task

log = logging.getLogger(__name__)

COLUMNS = ("validated", "needs assets", "needs network", "missing module", "reference error",
           "non-deterministic")
_EXCEPTION = re.compile(r"fails: ([A-Za-z_][\w.]*)(?::|$)")
_MISSING_MODULE = re.compile(r"No module named '?([\w.]+)")
#: what a failed download looks like (nltk's LookupError is a resource it would have downloaded)
_NETWORK_ERROR = re.compile(r"LookupError|URLError|HTTPError|ConnectionError|socket|"
                            r"Name or service not known|Temporary failure in name resolution")
#: memory addresses in reprs (`<Figure at 0x7f...>`) differ between runs and mean nothing
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")


@dataclass
class TaskVerdict:
    task: Task
    column: str
    detail: str = ""  # exception name, missing module, or which step differed


@dataclass
class ValidationTable:
    verdicts: list[TaskVerdict] = field(default_factory=list)

    def group(self, task: Task) -> tuple[str, str]:
        """(split, module): the folders of an imported `<split>/<module>/<name>` id (the
        front matter's module names vary in case: SciPy, scipy), else suite and module."""
        parts = task.id.split("/")
        if len(parts) >= 3:
            return parts[0], "/".join(parts[1:-1])
        return parts[0], (task.module or "(none)").lower()

    def rows(self) -> list[tuple[tuple[str, str], list[TaskVerdict]]]:
        groups: dict[tuple[str, str], list[TaskVerdict]] = {}
        for verdict in self.verdicts:
            groups.setdefault(self.group(verdict.task), []).append(verdict)
        return sorted(groups.items())

    def markdown(self) -> str:
        head = ["split", "module", "tasks", "steps", *COLUMNS]
        lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
        total: Counter[str] = Counter()
        for (split, module), verdicts in self.rows():
            counts = Counter(v.column for v in verdicts)
            steps = sum(len(v.task.steps) for v in verdicts)
            total.update(counts)
            total["tasks"] += len(verdicts)
            total["steps"] += steps
            lines.append(f"| {split} | {module} | {len(verdicts)} | {steps} | "
                         + " | ".join(str(counts[c]) for c in COLUMNS) + " |")
        lines.append(f"| **all** | | {total['tasks']} | {total['steps']} | "
                     + " | ".join(str(total[c]) for c in COLUMNS) + " |")
        out = ["# Validation", "", "\n".join(lines), ""]
        problems = [v for v in self.verdicts if v.column != "validated"]
        if problems:
            out += ["## Tasks that do not validate", "", "| task | column | detail |",
                    "|---|---|---|"]
            out += [f"| {v.task.id} | {v.column} | {v.detail.replace('|', '/')[:200]} |"
                    for v in sorted(problems, key=lambda v: (v.column, v.task.id))]
            out.append("")
        reasons = Counter(v.detail for v in self.verdicts if v.column == "reference error")
        if reasons:
            out += ["## Reference errors by exception", "",
                    ", ".join(f"{name} {n}" for name, n in reasons.most_common()), ""]
        return "\n".join(out)


def classify_failure(task: Task, error: str) -> TaskVerdict:
    """The column of a task whose references failed, from GroundTruthError's one line."""
    missing = _MISSING_MODULE.search(error)
    if missing or "ModuleNotFoundError" in error:
        return TaskVerdict(task, "missing module", missing.group(1) if missing else error)
    if task.metadata.get("needs_network") and _NETWORK_ERROR.search(error):
        return TaskVerdict(task, "needs network", error)
    name = _EXCEPTION.search(error)
    return TaskVerdict(task, "reference error", name.group(1) if name else error[:120])


def _fingerprint(truth: GroundTruth) -> list[tuple[str, tuple[str, ...]]]:
    """What must not change between two runs of the references: each step's answer text and
    the pixels of its figures (a figure can change while its plotted data does not, e.g. a
    bootstrap band drawn from OS entropy)."""
    return [(_ADDRESS.sub("0x…", s.execution.result_text()),
             tuple(hashlib.sha256(png.encode()).hexdigest()[:16] for png in s.execution.images()))
            for s in truth.steps]


async def second_run_differs(task: Task, truth: GroundTruth) -> str | None:
    """Run the references again in a fresh kernel; the first step whose output differs, or None."""
    try:
        again = await build_truth(task)
    except GroundTruthError as exc:
        return f"second run failed: {exc}"
    for step, (a, b) in enumerate(zip(_fingerprint(truth), _fingerprint(again), strict=False), 1):
        if a[0] != b[0]:
            return f"step {step}: {a[0][:60]!r} then {b[0][:60]!r}"
        if a[1] != b[1]:
            return f"step {step}: its figure differs between two runs"
    return None


async def validation_table(tasks: list[Task], truths: dict[str, GroundTruth],
                           invalid: dict[str, str], waiting: dict[str, str], *,
                           all_tasks: list[Task], jobs: int = 2) -> ValidationTable:
    """Classify every task; validated tasks run their references a second time."""
    by_id = {t.id: t for t in all_tasks}
    table = ValidationTable()
    for task_id, reason in waiting.items():
        table.verdicts.append(TaskVerdict(by_id[task_id], "needs assets", reason))
    for task_id, error in invalid.items():
        table.verdicts.append(classify_failure(by_id[task_id], error))
    sem = asyncio.Semaphore(max(1, jobs))

    async def recheck(task: Task) -> TaskVerdict:
        async with sem:
            differs = await second_run_differs(task, truths[task.id])
        if differs:
            log.warning("%s: non-deterministic: %s", task.id, differs)
            return TaskVerdict(task, "non-deterministic", differs)
        return TaskVerdict(task, "validated")

    table.verdicts += await asyncio.gather(*(recheck(t) for t in tasks if t.id in truths))
    return table


def write_table(path: Path, table: ValidationTable) -> None:
    atomic_write_text(path, table.markdown())
