"""`--samples N`: answer every task N times, each in a fresh kernel, and report pass@k.

Each sample is an ordinary session: its own kernel and scratch folder, its notebook at
`OUT/<model-slug>/<task-id>.sample-<i>.ipynb`, the sample index in `RunConfig.params.sample`.
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
from typing import TYPE_CHECKING

from .agents.base import make_agent
from .paths import model_slug
from .records import SessionRecord

if TYPE_CHECKING:
    from .executor import Executor
    from .groundtruth import GroundTruth
    from .runner import RunOptions
    from .task import Task

log = logging.getLogger(__name__)

async def run_model_samples(model: str, tasks: list[Task], truths: dict[str, GroundTruth],
                            opts: RunOptions, out: Path, run_id: str, executor: Executor, *,
                            name: str | None = None) -> list[SessionRecord]:
    """Run every task `opts.samples` times with `model`; resumable per sample.

    Each sample gets an agent and response cache of its own (the cache would otherwise replay
    sample 1's answers) and knows its index (`AgentOptions.sample`: replayed answers give
    sample i generation i); with `--seed S`, sample i uses seed S+i-1. `name` is the model's
    name in the run (default `model`); sessions run on `executor` (executor.py)."""
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
                                        executor, sample=i, spec=model)
    return records
