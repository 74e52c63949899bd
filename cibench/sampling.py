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
smallest number of completed samples of any task.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .agents.base import make_agent, model_slug
from .notebook import write_session
from .records import RunConfig, SessionRecord
from .scoring.passk import pass_at_k
from .scoring.vis_judge import judge_session
from .session import run_session

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


def pass_at_k_table(records: list[SessionRecord]) -> dict[str, Any] | None:
    """{"samples": N, "pass@1": .., "pass@5": .., "pass@N": ..} in percent, or None without
    sampled sessions. Keys beyond the smallest completed sample count are left out."""
    per_task: dict[str, list[bool]] = {}
    sampled = False
    for record in records:
        if sample_of(record) is None:
            continue
        sampled = True
        if record.status != "complete":
            continue
        per_task.setdefault(record.task.id, []).append(task_passed(record))
    if not sampled or not per_task:
        return None
    n_min = min(len(v) for v in per_task.values())
    n_max = max(len(v) for v in per_task.values())
    ks = sorted({k for k in (*K_VALUES, n_max) if k <= n_min})
    table: dict[str, Any] = {}
    for k in ks:
        values = [pass_at_k(len(v), sum(v), k) for v in per_task.values()]
        table[f"pass@{k}"] = round(100.0 * sum(values) / len(values), 2)
    return {"samples": n_max, "tasks": len(per_task), "pass_at_k": table}


async def run_model_samples(model: str, tasks: list[Task], truths: dict[str, GroundTruth],
                            opts: RunOptions, out: Path, run_id: str) -> list[SessionRecord]:
    """Run every task `opts.samples` times with `model`; resumable per sample."""
    from .runner import _finished  # the runner's resume test (lazy: runner imports us)

    n = opts.samples
    if opts.agent.temperature == 0 and model not in ("oracle",):
        log.warning("--samples %d with --temperature 0: a deterministic model gives N identical "
                    "samples; pass@k is then just pass@1", n)
    sem = asyncio.Semaphore(max(1, opts.jobs))
    records: list[SessionRecord] = []
    for i in range(1, n + 1):
        seed = opts.agent.seed + i - 1 if opts.agent.seed is not None else None
        cache_dir = str(out / model_slug(model) / f"sample-{i}") if opts.agent.cache else None
        agent_options = dataclasses.replace(opts.agent, seed=seed, cache_dir=cache_dir)
        agent = make_agent(model, agent_options)
        params = {"temperature": agent_options.temperature,
                  "max_tokens": agent_options.max_tokens, "seed": seed,
                  "feedback_chars": agent_options.feedback_chars,
                  "module_hint": agent_options.module_hint, **agent_options.model_args,
                  "sample": i, "samples": n}
        vis_judge = getattr(opts, "vis_judge", None)
        if vis_judge:
            params["vis_judge"] = vis_judge
        config = RunConfig(run_id=run_id, model=model, mode=opts.mode,  # type: ignore[arg-type]
                           protocol=agent.protocol, attempts=opts.attempts,
                           scoring=opts.scoring, timeout=opts.timeout, params=params)

        async def one(task: Task, i: int = i, config: RunConfig = config,
                      agent: Any = agent) -> SessionRecord:
            path = sample_path(out, model, task.id, i)
            done = _finished(path, config)
            if done is not None:
                log.info("%s %s sample %d: already complete, skipped", model, task.id, i)
                return done
            async with sem:
                log.info("%s %s sample %d/%d: running (%s)", model, task.id, i, n, opts.mode)
                truth = truths[task.id]
                record = await run_session(task, agent, truth, config, opts.settings)
                await judge_session(record, out)
                write_session(path, record, {s.index: s.execution for s in truth.steps})
                log.info("%s %s sample %d: %s %s", model, task.id, i, record.status,
                         json.dumps(record.scores))
                return record

        async with agent:
            records += await asyncio.gather(*(one(t) for t in tasks))
    return records
