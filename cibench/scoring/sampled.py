"""pass@k over sampled sessions (`--samples N`), counted per task as CRUXEval counts them."""

from __future__ import annotations

from typing import Any

from ..importers.cruxeval import SKIPPED_ERROR
from ..records import SessionRecord
from .passk import pass_at_k

K_VALUES = (1, 5)


def sample_of(record: SessionRecord) -> int | None:
    return record.run.params.sample


def task_passed(record: SessionRecord) -> bool:
    """One sample passes when all its steps pass."""
    return bool(record.steps) and all(s.score is not None and s.score.passed
                                      for s in record.steps)


def skipped_by_cruxeval(record: SessionRecord) -> bool:
    """The sample's generation is one CRUXEval leaves out before counting: its check raised
    `CruxEvalSkipped` (importers/cruxeval.py)."""
    return any(s.check is not None and s.check.error_name == SKIPPED_ERROR for s in record.steps)


def task_results(samples: list[tuple[bool, bool]]) -> list[bool]:
    """One task's pass/fail list from its samples' (passed, skipped) as CRUXEval counts them
    (evaluation/utils_general.py: evaluate_score): skipped generations are left out; when no
    kept one passes, the result is n False values (n = every sample, skipped included).
    Without skipped samples this is just the samples' verdicts."""
    if not any(skipped for _, skipped in samples):
        return [passed for passed, _ in samples]
    kept = [passed for passed, skipped in samples if not skipped]
    return kept if True in kept else [False] * len(samples)


def pass_at_k_table(records: list[SessionRecord]) -> dict[str, Any] | None:
    """{"samples": N, "pass@1": .., "pass@5": .., "pass@N": ..} in percent, or None without
    sampled sessions. Keys beyond the smallest completed sample count are left out. Per task,
    samples are counted by `task_results` and pass@k is CRUXEval's estimator (which is 1.0 when
    fewer than k samples are left after skipping and one of them passes)."""
    per_task: dict[str, list[tuple[bool, bool]]] = {}
    sampled = False
    for record in records:
        if sample_of(record) is None:
            continue
        sampled = True
        if record.status != "complete":
            continue
        per_task.setdefault(record.task.id, []).append(
            (task_passed(record), skipped_by_cruxeval(record)))
    if not sampled or not per_task:
        return None
    n_min = min(len(v) for v in per_task.values())
    n_max = max(len(v) for v in per_task.values())
    ks = sorted({k for k in (*K_VALUES, n_max) if k <= n_min})
    table: dict[str, Any] = {}
    results = [task_results(v) for v in per_task.values()]
    for k in ks:
        values = [pass_at_k(len(r), sum(r), k, strict=False) for r in results]
        table[f"pass@{k}"] = round(100.0 * sum(values) / len(values), 2)
    out: dict[str, Any] = {"samples": n_max, "tasks": len(per_task), "pass_at_k": table}
    skipped = sum(1 for v in per_task.values() for _, sk in v if sk)
    if skipped:
        out["skipped"] = skipped
    return out
