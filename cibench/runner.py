"""A run: tasks × models in one mode, into one output folder that can be resumed.

Output contract (other tools and CI read it):
- `OUT/run.json`: the run manifest (schema_version, run id, mode, settings, versions).
- `OUT/<model-slug>/<task-id>.ipynb`: one annotated session notebook per model and task.
- `OUT/summary.json`: `{"schema_version": 1, "results": [{"model", "mode", "tasks", "steps",
  "metrics": {...}}]}`, metrics in percent pooled over steps, null where no step has the type.
A second `run` with the same `--out` skips sessions already complete and redoes the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .agents.base import Agent, AgentOptions, make_agent
from .concurrency import default_jobs, usable_cores
from .errors import CibenchError, GroundTruthError, RunDirError, UsageError
from .executor import Executor, LocalExecutor, SessionJob
from .fastcheck import ForkPool, build_truth_fast, truth_eligible
from .fsutil import atomic_write_json, check_folder_arg
from .groundtruth import (
    GroundTruth,
    ensure_truth,
    is_current,
    load_truth,
    store_truth,
    truth_sha256,
)
from .notebook import read_session
from .paths import model_slug, record_path, sample_path, session_path
from .pipeline import finish
from .preflight import preflight_tasks
from .progress import NullProgress, Progress
from .records import RunConfig, RunParams, SessionRecord
from .run_manifest import (
    RESUME_KEYS,
    check_manifest,
    new_run_id,
    record_truth_hashes,
    run_lock,
)
from .rundir import collect_sessions
from .sandbox import check_available
from .session import SessionSettings
from .summary import RunResult, summarize
from .task import Task, load_tasks

log = logging.getLogger(__name__)

@dataclass
class RunOptions:
    paths: list[str]
    models: list[str] = field(default_factory=lambda: ["local"])
    mode: str = "e2e"
    out: Path | None = None
    oracle_dir: Path = Path("oracle")
    attempts: int = 3
    timeout: float = 60.0
    scoring: str = "default"
    jobs: int = 0  # sessions in flight; 0: chosen from the machine and the models (concurrency.py)
    samples: int = 1  # --samples N: each task answered N times (see sampling.py)
    fast_path: bool = True  # replayed check-only tasks run forked from a warm worker (fastcheck)
    vis_judge: dict[str, Any] | None = None  # --vis-judge: JudgeSettings.as_params()
    run_id: str | None = None
    executor: str = "local"  # --executor: "local" (this process) or "ray" (ray_executor.py)
    address: str | None = None  # --address: the Ray cluster (None: start a local instance)
    agent: AgentOptions = field(default_factory=AgentOptions)
    settings: SessionSettings = field(default_factory=SessionSettings)
    progress: Progress = field(default_factory=NullProgress)  # live display (cibench/progress.py)


async def _ensure_truth_fast(task: Task, oracle_dir: Path, pool: ForkPool,
                             rebuild: bool) -> GroundTruth:
    """ensure_truth for a check-only single-step task, built on the fast path (fastcheck.py)."""
    truth = None if rebuild else load_truth(oracle_dir, task.id)
    if is_current(truth, task):
        assert truth is not None
        return truth
    log.info("%s: building ground truth (fast path)", task.id)
    return store_truth(oracle_dir, await build_truth_fast(task, pool))


async def prepare_truth(tasks: list[Task], oracle_dir: Path, jobs: int, *,
                        rebuild: bool = False, progress: Progress | None = None,
                        pool: ForkPool | None = None
                        ) -> tuple[dict[str, GroundTruth], dict[str, str]]:
    """Ground truth per task id, and the one-line error of each task whose references fail
    (one broken task in a suite of hundreds must not stop the others). With `pool` (a run with
    replayed answers), check-only single-step tasks get theirs on the fast path."""
    sem = asyncio.Semaphore(max(1, jobs))
    progress = progress or NullProgress()
    progress.add_total(len(tasks), "ground truth")
    truths: dict[str, GroundTruth] = {}
    invalid: dict[str, str] = {}

    async def one(task: Task) -> None:
        async with sem:
            try:
                if pool is not None and truth_eligible(task):
                    truths[task.id] = await _ensure_truth_fast(task, oracle_dir, pool, rebuild)
                else:
                    truths[task.id] = await ensure_truth(task, oracle_dir, rebuild=rebuild)
            except GroundTruthError as exc:
                invalid[task.id] = str(exc)
                log.error("%s", exc)
            progress.task_validated(task.id in truths)
    await asyncio.gather(*(one(t) for t in tasks))
    if not truths and invalid:
        raise GroundTruthError(f"no task has valid ground truth ({len(invalid)} failed; first: "
                               f"{next(iter(invalid.values()))})")
    return truths, dict(sorted(invalid.items()))


def _comparable(params: RunParams) -> dict[str, Any]:
    return params.model_dump(mode="json", exclude={"vis_judge"})  # the judge can be re-asked


def _finished(path: Path, config: RunConfig, task: Task) -> SessionRecord | None:
    """The recorded session at `path` if it is complete for this config and this version of
    the task, else None (then it is run again)."""
    if not path.is_file():
        return None
    try:
        record = read_session(path)
    except CibenchError as exc:
        log.warning("%s", exc)
        return None
    if record.status != "complete":
        return None
    if any(getattr(record.run, k) != getattr(config, k) for k in RESUME_KEYS):
        return None
    if record.task.sha256 != task.sha256:
        log.info("%s: the task changed since it was recorded; running it again", task.id)
        return None
    if record.run.protocol != config.protocol or \
            _comparable(record.run.params) != _comparable(config.params):
        log.info("%s: recorded with other model settings; running it again", task.id)
        return None
    return record


async def _run_model(agent: Agent, model: str, tasks: list[Task], truths: dict[str, GroundTruth],
                     opts: RunOptions, out: Path, run_id: str, executor: Executor,
                     sample: int | None = None, spec: str | None = None) -> list[SessionRecord]:
    """Every task with one entered agent; `sample` (with --samples) names the sample; `model`
    is the model's name in the run (folder, records), `spec` the --model as given (how a
    worker elsewhere builds the agent; default `model`). Sessions already complete are
    skipped; the others run on `executor`, at most `--jobs` at once, in task order."""
    sem = asyncio.Semaphore(max(1, opts.jobs))
    params = {"temperature": opts.agent.temperature, "max_tokens": opts.agent.max_tokens,
              "seed": opts.agent.seed, "feedback_chars": opts.agent.feedback_chars,
              "module_hint": opts.agent.module_hint, **opts.agent.model_args}
    if sample is not None:
        params.update(sample=sample, samples=opts.samples)
    if opts.vis_judge:
        params["vis_judge"] = opts.vis_judge
    config = RunConfig(run_id=run_id, model=model, mode=opts.mode,  # type: ignore[arg-type]
                       protocol=agent.protocol, attempts=opts.attempts, scoring=opts.scoring,
                       timeout=opts.timeout, params=RunParams(**params))
    label = "" if sample is None else f" sample {sample}/{opts.samples}"
    opts.progress.add_total(len(tasks), f"{model} · {opts.mode}")
    records: dict[str, SessionRecord] = {}
    pending: list[tuple[Path, SessionJob]] = []
    for task in tasks:
        path = (session_path(out, model, task.id) if sample is None
                else sample_path(out, model, task.id, sample))
        done = _finished(path, config, task)
        if done is not None:
            log.info("%s %s%s: already complete, skipped", model, task.id, label)
            opts.progress.session_done(done, skipped=True)
            records[task.id] = done
        else:
            pending.append((path, SessionJob(task=task, truth=truths[task.id], config=config,
                                             model=spec or model, agent_options=opts.agent,
                                             settings=opts.settings)))
    executor.expect([job for _, job in pending], agent)

    async def one(path: Path, job: SessionJob) -> None:
        async with sem:
            log.info("%s %s%s: running (%s)", model, job.task.id, label, opts.mode)
            record = await executor.run(job, agent)
        # scored and written outside the semaphore (both in threads): scoring and the
        # notebook's fsync overlap the next session's work
        await finish(record, job.truth, path, out, scored=executor.scores_sessions)
        log.info("%s %s%s: %s %s", model, job.task.id, label, record.status,
                 json.dumps(record.scores))
        opts.progress.session_done(record)
        records[job.task.id] = record
    await asyncio.gather(*(one(path, job) for path, job in pending))
    return [records[t.id] for t in tasks]


def make_executor(opts: RunOptions, fork_pool: ForkPool | None) -> Executor:
    """The executor `--executor` names (not yet entered)."""
    if opts.executor == "ray":
        from .ray_executor import RayExecutor  # optional: `pip install cibench[ray]`
        return RayExecutor(opts.address, jobs=opts.jobs, models=opts.models,
                           memory_mb=opts.settings.limits.memory_mb)
    if opts.executor != "local":
        raise UsageError(f"--executor {opts.executor}: unknown executor",
                         hint="use --executor local or --executor ray")
    return LocalExecutor(opts.settings, opts.timeout, spare=min(opts.jobs, usable_cores()),
                         fork_pool=fork_pool)


def _model_names(specs: list[str], agents: list[Agent]) -> list[str]:
    """The name each model has in the run: replay agents name theirs (answers:FILE@NAME),
    others are called as given. Two that would share a folder are refused."""
    names = [a.name if getattr(a, "replays", False) else m for m, a in zip(specs, agents, strict=False)]
    seen: dict[str, str] = {}
    for spec, name in zip(specs, names, strict=False):
        slug = model_slug(name)
        if slug in seen:
            raise RunDirError(f"--model {seen[slug]} and --model {spec} would both be written to "
                              f"the folder {slug}/ of the run",
                              hint="name one with answers:FILE@NAME")
        seen[slug] = spec
    return names


def _checked_options(opts: RunOptions) -> RunOptions:
    """The options with --jobs chosen when not given and the run's key variables scrubbed from
    kernels; refuses (one line) what cannot run: Ray missing, the embedded model on Ray, a
    sandbox this machine lacks."""
    if opts.jobs < 1:
        jobs, why = default_jobs(opts.models)
        log.info("--jobs %d (%s)", jobs, why)
        opts = dataclasses.replace(opts, jobs=jobs)
    if opts.executor == "ray":  # Ray missing, the embedded model: refused before any starts
        from .ray_executor import check_models
        check_models(opts.models)
    if opts.settings.sandbox is not None:
        check_available(opts.settings.sandbox)
    secrets = tuple(v for v in (opts.agent.api_key_env,
                                (opts.vis_judge or {}).get("api_key_env")) if v)
    if secrets:
        opts = dataclasses.replace(opts, settings=dataclasses.replace(
            opts.settings, secret_env=tuple(dict.fromkeys(
                (*opts.settings.secret_env, *secrets)))))
    return opts


async def _enter_agents(stack: contextlib.AsyncExitStack, opts: RunOptions,
                        out: Path) -> list[Agent]:
    """Every --model's agent, entered (which checks the model and its server), each with its
    response cache in its folder of the run."""
    agents = []
    for model in opts.models:
        agent_options = dataclasses.replace(
            opts.agent, cache_dir=str(out / model_slug(model)) if opts.agent.cache else None)
        agents.append(await stack.enter_async_context(make_agent(model, agent_options)))
    return agents


def _write_summary(out: Path, made: dict[Path, SessionRecord], invalid: dict[str, str],
                   waiting: dict[str, str]) -> tuple[dict[str, Any], list[SessionRecord]]:
    """summary.json over every session in the folder (this run's and earlier runs' ones)."""
    records = collect_sessions(out, known=made)
    summary = summarize(records)
    if invalid:
        summary["invalid_tasks"] = [{"task": k, "error": v} for k, v in invalid.items()]
    if waiting:
        summary["skipped_tasks"] = [{"task": k, "reason": v} for k, v in waiting.items()]
    atomic_write_json(out / "summary.json", summary)
    return summary, records


async def run_benchmark(opts: RunOptions) -> RunResult:
    """Run every (model, task) session into the run folder and write summary.json.

    Everything that can be refused (tasks, missing data files, sandbox flags, models, API
    server) is checked before the first session starts; when that fails in a folder this call
    created, the folder is removed again, so bad input leaves nothing half-written."""
    tasks, waiting = preflight_tasks(load_tasks(opts.paths))
    opts = _checked_options(opts)
    run_id = opts.run_id or new_run_id()
    out = check_folder_arg(opts.out if opts.out else Path("sessions") / run_id, "--out")
    check_folder_arg(opts.oracle_dir, "--oracle-dir")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    started = False
    try:
        with run_lock(out):
            async with contextlib.AsyncExitStack() as stack:
                agents = await _enter_agents(stack, opts, out)
                names = _model_names(opts.models, agents)
                pool = None
                if opts.fast_path and any(getattr(a, "replays", False) for a in agents):
                    pool = await stack.enter_async_context(ForkPool(opts.jobs, opts.settings))
                executor = await stack.enter_async_context(make_executor(opts, pool))
                run_id = check_manifest(
                    out, run_id, {k: getattr(opts, k) for k in RESUME_KEYS}, opts.models,
                    {"tasks": opts.paths, "protocol": opts.agent.protocol,
                     "samples": opts.samples, "vis_judge": opts.vis_judge})
                truths, invalid = await prepare_truth(tasks, opts.oracle_dir, opts.jobs,
                                                      pool=pool)
                truth_hashes = {t: truth_sha256(opts.oracle_dir, t) for t in truths}
                tasks = [t for t in tasks if t.id in truths]
                started = True
                made: dict[Path, SessionRecord] = {}
                for model, name, agent in zip(opts.models, names, agents, strict=False):
                    if opts.samples > 1:  # one agent (and response cache) per sample
                        from .sampling import run_model_samples
                        got = await run_model_samples(model, tasks, truths, opts, out, run_id,
                                                      executor, name=name)
                    else:
                        got = await _run_model(agent, name, tasks, truths, opts, out, run_id,
                                               executor, spec=model)
                    made.update((record_path(out, r), r) for r in got)
            record_truth_hashes(out, truth_hashes)
            summary, records = _write_summary(out, made, invalid, waiting)
    except CibenchError:
        if created and not started:
            shutil.rmtree(out, ignore_errors=True)
        raise
    errors = sum(1 for r in records if r.status != "complete")
    return RunResult(out=out, summary=summary, errors=errors, invalid=len(invalid),
                     skipped=len(waiting))
