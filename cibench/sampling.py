"""`--samples N`: answer every task N times, each in a fresh kernel, and report pass@k.

Each sample is an ordinary session: its own kernel and scratch folder, its notebook at
`OUT/<model-slug>/<task-id>.sample-<i>.ipynb`, the sample index in `RunConfig.params["sample"]`.
Each sample gets its own agent with its own response cache (`OUT/<model-slug>/sample-<i>/`), so
sample 2 never replays sample 1's cached answers and a killed run resumes sample by sample; with
`--seed S` sample i uses seed S + i - 1. Sampling only makes sense with `--temperature` > 0 (a
warning says so otherwise).

A sample of a task *passes* when every step of it passes (`StepScore.passed`): for a single-step
task that is the step's verdict, as in CRUXEval; a multi-step task counts as solved only when the
whole notebook was. pass@k per task uses the unbiased estimator (`scoring.passk.pass_at_k`) over
that task's completed samples (infrastructure errors are left out, not counted as failures);
the reported pass@k is the mean over tasks, in percent, for k in {1, 5, N} with k <= the
smallest number of completed samples of any task. Samples whose CRUXEval check says the
generation is one CRUXEval does not count are handled as CRUXEval does (`task_results`).
With `--model answers:FILE`, sample i is answered by the file's i-th answer (agents/replay.py).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .agents.base import make_agent, model_slug
from .importers.cruxeval import SKIPPED_ERROR
from .records import SessionRecord
from .scoring.passk import pass_at_k

if TYPE_CHECKING:
    from .groundtruth import GroundTruth
    from .runner import RunOptions
    from .task import Task

log = logging.getLogger(__name__)

K_VALUES = (1, 5)


def sample_path(out: Path, model: str, task_id: str, sample: int) -> Path:
    return out / model_slug(model) / f"{task_id}.sample-{sample}.ipynb"


def sample_of(record: SessionRecord) -> int | None:
    value = record.run.params.get("sample")
    return int(value) if value is not None else None


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


async def run_model_samples(model: str, tasks: list[Task], truths: dict[str, GroundTruth],
                            opts: RunOptions, out: Path, run_id: str, *, name: str | None = None,
                            pool: Any = None) -> list[SessionRecord]:
    """Run every task `opts.samples` times with `model`; resumable per sample.

    Each sample gets an agent and response cache of its own (the cache would otherwise replay
    sample 1's answers) and knows its index (`AgentOptions.sample`: replayed answers give
    sample i generation i); with `--seed S`, sample i uses seed S+i-1. `name` is the model's
    name in the run (default `model`); `pool` is the fast path's (fastcheck.py)."""
    from .runner import _run_model  # lazy: runner imports this module

    n = opts.samples
    name = name or model
    replays = model.startswith("answers:")
    if opts.agent.temperature == 0 and model not in ("oracle",) and not replays:
        log.warning("--samples %d with --temperature 0: a deterministic model gives N identical "
                    "samples; pass@k is then just pass@1", n)
    records: list[SessionRecord] = []
    for i in range(1, n + 1):
        seed = opts.agent.seed + i - 1 if opts.agent.seed is not None else None
        cache_dir = str(out / model_slug(name) / f"sample-{i}") if opts.agent.cache \
            and not replays else None
        sample_opts = dataclasses.replace(
            opts, agent=dataclasses.replace(opts.agent, seed=seed, cache_dir=cache_dir,
                                            sample=i))
        async with make_agent(model, sample_opts.agent) as agent:
            records += await _run_model(agent, name, tasks, truths, sample_opts, out, run_id,
                                        sample=i, pool=pool)
    return records
