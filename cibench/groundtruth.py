"""Ground truth: execute each task's reference cells in a fresh kernel and store what they produce.

`oracle/<task-id>.json` holds, per step, the reference's `Execution`, the plotted data of its
figures and whether its check cells pass, keyed by a hash of the task's sources (cells, tags,
metadata, data files) and a fingerprint of the environment (python and the packages tasks use).
Ground truth whose hash or fingerprint differs from the current one is stale and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from .errors import GroundTruthError, RunDirError
from .execute import FIGURES, figures_after, run_check
from .fsutil import atomic_write_json, make_scratch, remove_tree
from .kernel import SEEDING, KernelLimits, KernelSession, startup_code
from .kernel_check import kernel_fingerprint
from .records import Execution
from .scoring.numeric import parse_numbers
from .task import Task

log = logging.getLogger(__name__)

#: oracle/<task>.json: ground truth of another version is rebuilt, never misread
TRUTH_SCHEMA_VERSION = 2  # 2: one output per kernel message, capped outputs keep their tail

REFERENCE_TIMEOUT = 120.0  # CIBench gives reference code 120 s




def environment_fingerprint() -> dict[str, str]:
    """The kernel's Python version and the version of every module pinned for its profile, as
    installed in the kernel's own environment (kernel_env), and the seeding scheme."""
    return {**kernel_fingerprint(), "seeding": SEEDING}


class TruthStep(BaseModel):
    index: int
    type: str
    execution: Execution
    checks: list[Execution] = Field(default_factory=list)
    figure_data: list[dict[str, Any]] = Field(default_factory=list)


class GroundTruth(BaseModel):
    schema_version: int = TRUTH_SCHEMA_VERSION
    task_id: str
    source_sha256: str
    environment: dict[str, str]
    created: str
    seconds: float = 0.0
    steps: list[TruthStep]


def truth_path(oracle_dir: Path, task_id: str) -> Path:
    return Path(oracle_dir) / f"{task_id}.json"


def truth_sha256(oracle_dir: Path, task_id: str) -> str | None:
    """sha256 of a ground-truth file as it is on disk (None when it is missing)."""
    try:
        return hashlib.sha256(truth_path(oracle_dir, task_id).read_bytes()).hexdigest()
    except OSError:
        return None


def load_truth(oracle_dir: Path, task_id: str) -> GroundTruth | None:
    path = truth_path(oracle_dir, task_id)
    if not path.is_file():
        return None
    try:
        truth = GroundTruth.model_validate_json(path.read_text())
    except (ValidationError, json.JSONDecodeError) as exc:
        log.warning("%s: unreadable ground truth (%s); it will be rebuilt", path,
                    str(exc).splitlines()[0])
        return None
    if truth.schema_version != TRUTH_SCHEMA_VERSION:
        log.warning("%s: ground truth version %s, this cibench reads version %d; it will be "
                    "rebuilt", path, truth.schema_version, TRUTH_SCHEMA_VERSION)
        return None
    return truth


def is_current(truth: GroundTruth | None, task: Task) -> bool:
    return (truth is not None and truth.schema_version == TRUTH_SCHEMA_VERSION
            and truth.source_sha256 == task.sha256
            and truth.environment == environment_fingerprint())


def _missing_output(kind: str, execution: Execution) -> str | None:
    """Why this reference output cannot serve as ground truth for its step type, or None."""
    if kind == "num" and not parse_numbers(execution.result_text()):
        return "a `num` step's reference prints no number"
    if kind == "text" and not execution.result_text().strip():
        return "a `text` step's reference prints no text"
    if kind == "vis" and not execution.images():
        return "a `vis` step's reference shows no figure"
    return None


async def build_truth(task: Task, *, limits: KernelLimits | None = None,
                      timeout: float = REFERENCE_TIMEOUT) -> GroundTruth:
    """Run setup and every step's reference and checks in one fresh kernel; refuse bad tasks."""
    started = time.monotonic()
    scratch = make_scratch(task)
    steps: list[TruthStep] = []
    try:
        async with KernelSession(scratch, timeout=timeout, limits=limits or KernelLimits(),
                                 startup_code=startup_code()) as kernel:
            for i, code in enumerate(task.setup, 1):
                result = await kernel.execute(code)
                if not result.ok:
                    raise GroundTruthError(f"setup cell {i} fails: {_describe(result)}",
                                           path=task.path)
            for step in task.steps:
                await kernel.reseed(step.index)
                result = await kernel.execute(step.reference, expressions=FIGURES)
                if not result.ok:
                    raise GroundTruthError(f"reference code fails: {_describe(result)}",
                                           path=task.path, cell=step.cell, step=step.index)
                figures = await figures_after(kernel)
                missing = _missing_output(step.type, result)
                if missing:
                    raise GroundTruthError(missing, path=task.path, cell=step.cell,
                                           step=step.index, hint="fix the reference or the type")
                checks = []
                for code in step.checks:
                    check = await run_check(kernel, code)
                    if not check.ok:
                        raise GroundTruthError(f"check cell fails on the reference: "
                                               f"{_describe(check)}", path=task.path,
                                               step=step.index)
                    checks.append(check)
                steps.append(TruthStep(index=step.index, type=step.type, execution=result,
                                       checks=checks, figure_data=figures))
    finally:
        remove_tree(scratch)
    return GroundTruth(task_id=task.id, source_sha256=task.sha256,
                       environment=environment_fingerprint(),
                       created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       seconds=round(time.monotonic() - started, 2), steps=steps)


def _describe(result: Execution) -> str:
    err = result.error
    if err:
        return f"{err.get('ename')}: {err.get('evalue')}".strip()[:200]
    return result.note or result.status


async def ensure_truth(task: Task, oracle_dir: Path, *, rebuild: bool = False,
                       limits: KernelLimits | None = None) -> GroundTruth:
    """Current ground truth for a task, building and storing it when missing or stale."""
    truth = None if rebuild else load_truth(oracle_dir, task.id)
    if is_current(truth, task):
        assert truth is not None
        return truth
    log.info("%s: building ground truth", task.id)
    return store_truth(oracle_dir, await build_truth(task, limits=limits))


def store_truth(oracle_dir: Path, truth: GroundTruth) -> GroundTruth:
    """Write `oracle/<task>.json` atomically; a folder that can't be written is one line."""
    path = truth_path(oracle_dir, truth.task_id)
    try:
        atomic_write_json(path, truth.model_dump(mode="json"))
    except OSError as exc:
        raise RunDirError(f"cannot write ground truth: {exc.strerror or exc}", path=path,
                          hint="check --oracle-dir") from exc
    return truth
