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
import fcntl
import json
import logging
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._version import __version__
from .agents.base import Agent, AgentOptions, make_agent
from .collector import clean_name
from .concurrency import default_jobs
from .errors import CibenchError, GroundTruthError, RunDirError, SchemaVersionError, UsageError
from .executor import Executor, LocalExecutor, SessionJob
from .fastcheck import ForkPool, build_truth_fast, truth_eligible
from .fsutil import atomic_write_json, check_folder_arg
from .groundtruth import (
    GroundTruth,
    ensure_truth,
    environment_fingerprint,
    is_current,
    load_truth,
    store_truth,
    truth_path,
    truth_sha256,
)
from .notebook import read_session
from .paths import model_slug, record_path, sample_path, session_path
from .pipeline import finish, rescore_record
from .preflight import preflight_tasks
from .progress import NullProgress, Progress
from .records import RunConfig, RunParams, SessionRecord, Usage
from .rundir import collect_sessions, session_paths
from .sandbox import check_available
from .scoring.aggregate import pool
from .scoring.sampled import pass_at_k_table
from .scoring.scorer import NO_ANSWER
from .session import SessionSettings
from .task import Task, load_tasks

log = logging.getLogger(__name__)

#: each artifact has its own version (bumping one never invalidates the others)
MANIFEST_SCHEMA_VERSION = 1  # OUT/run.json
SUMMARY_SCHEMA_VERSION = 1  # OUT/summary.json

REPLAY_PROTOCOL = "replay"  # agents/replay.py: answers read from a file

# settings that must not change when a run folder is resumed
RESUME_KEYS = ("mode", "attempts", "scoring", "timeout")


def new_run_id() -> str:
    return time.strftime("%Y-%m-%dT%H-%M-%S", time.gmtime())


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


@dataclass
class RunResult:
    out: Path
    summary: dict[str, Any]
    errors: int  # sessions that ended in an infrastructure error
    invalid: int = 0  # tasks skipped because their references fail (see summary invalid_tasks)
    skipped: int = 0  # tasks set aside until their assets are in place (summary skipped_tasks)


def _check_manifest(out: Path, opts: RunOptions, run_id: str) -> str:
    """Create or verify OUT/run.json; returns the run id to use."""
    path = out / "run.json"
    wanted = {"mode": opts.mode, "attempts": opts.attempts, "scoring": opts.scoring,
              "timeout": opts.timeout}
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RunDirError(f"unreadable run manifest: {exc}", path=path) from exc
        if not isinstance(old, dict):
            raise RunDirError("run manifest is not a JSON object", path=path,
                              hint="use another --out")
        if old.get("schema_version") != MANIFEST_SCHEMA_VERSION:
            raise RunDirError(f"run manifest version {old.get('schema_version')!r}, this cibench "
                              f"writes version {MANIFEST_SCHEMA_VERSION}", path=path,
                              hint="use another --out (a run folder is resumed only by the "
                                   "cibench version that made it)")
        for key in RESUME_KEYS:
            if old.get(key) != wanted[key]:
                raise RunDirError(f"this folder holds a run with {key}={old.get(key)!r}, not "
                                  f"{wanted[key]!r}", path=out,
                                  hint="use another --out or the same settings to resume")
        models = sorted(set(old.get("models", [])) | set(opts.models))
        atomic_write_json(path, {**old, "models": models, "resumed": time.time()})
        return str(old.get("run_id", run_id))
    atomic_write_json(path, {"schema_version": MANIFEST_SCHEMA_VERSION, "run_id": run_id,
                             "cibench_version": __version__, "models": opts.models,
                             "tasks": opts.paths, "protocol": opts.agent.protocol,
                             "samples": opts.samples, "vis_judge": opts.vis_judge,
                             "environment": environment_fingerprint(), **wanted})
    return run_id


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


def summarize(records: list[SessionRecord]) -> dict[str, Any]:
    """summary.json: one result row per (model, mode), pooled over every step of its sessions."""
    groups: dict[tuple[str, str], list[SessionRecord]] = {}
    for record in records:
        groups.setdefault((record.run.model, record.run.mode), []).append(record)
    results = []
    for (model, mode), recs in groups.items():
        done = [r for r in recs if r.status == "complete"]
        steps = [s for r in done for s in r.steps]
        usage = Usage()
        for r in recs:
            usage.add(r.usage)
        failures = Counter(clean_name(s.score.failure) for s in steps
                           if s.score and s.score.failure)
        results.append({
            "model": model, "mode": mode, "scoring": recs[0].run.scoring,
            "protocol": recs[0].run.protocol, "tasks": len(done), "steps": len(steps),
            "errors": [{"task": r.task.id, "error": r.error} for r in recs if r.status != "complete"],
            "metrics": pool(steps),
            "usage": {"model_calls": usage.model_calls, "tokens_in": usage.tokens_in,
                      "tokens_out": usage.tokens_out, "cost_usd": usage.cost_usd,
                      "model_seconds": round(usage.model_seconds, 3),
                      "kernel_seconds": round(sum(r.kernel_seconds for r in recs), 3)},
            "failures": dict(sorted(failures.items())),
        })
        if any(r.run.protocol == REPLAY_PROTOCOL for r in recs):
            # replayed answers: how many sessions (task x sample) the file had nothing for
            results[-1]["no_answer"] = sum(
                1 for r in done if any(s.score and s.score.failure == NO_ANSWER for s in r.steps))
        sampled = pass_at_k_table(recs)
        if sampled:
            results[-1].update(sessions=len(done), tasks=sampled["tasks"],
                               samples=sampled["samples"], pass_at_k=sampled["pass_at_k"])
            if sampled.get("skipped"):  # generations CRUXEval leaves out before counting
                results[-1]["cruxeval_skipped"] = sampled["skipped"]
    return {"schema_version": SUMMARY_SCHEMA_VERSION, "results": results}


def make_executor(opts: RunOptions, fork_pool: ForkPool | None) -> Executor:
    """The executor `--executor` names (not yet entered)."""
    if opts.executor == "ray":
        from .ray_executor import RayExecutor  # optional: `pip install cibench[ray]`
        return RayExecutor(opts.address, jobs=opts.jobs, models=opts.models,
                           memory_mb=opts.settings.limits.memory_mb)
    if opts.executor != "local":
        raise UsageError(f"--executor {opts.executor}: unknown executor",
                         hint="use --executor local or --executor ray")
    return LocalExecutor(opts.settings, opts.timeout, spare=min(opts.jobs, os.cpu_count() or 1),
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


@contextlib.contextmanager
def _run_lock(out: Path):
    """One `cibench run` per run folder at a time (released by the OS even on SIGKILL)."""
    fd = os.open(out / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunDirError("another `cibench run` is using this folder", path=out,
                              hint="wait for it, or use another --out") from None
        yield
    finally:
        os.close(fd)


async def run_benchmark(opts: RunOptions) -> RunResult:
    """Run every (model, task) session into the run folder and write summary.json.

    Everything that can be refused (tasks, missing data files, sandbox flags, models, API
    server) is checked before the first session starts; when that fails in a folder this call
    created, the folder is removed again, so bad input leaves nothing half-written."""
    if opts.jobs < 1:
        jobs, why = default_jobs(opts.models)
        log.info("--jobs %d (%s)", jobs, why)
        opts = dataclasses.replace(opts, jobs=jobs)
    tasks, waiting = preflight_tasks(load_tasks(opts.paths))
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
    run_id = opts.run_id or new_run_id()
    out = check_folder_arg(opts.out if opts.out else Path("sessions") / run_id, "--out")
    check_folder_arg(opts.oracle_dir, "--oracle-dir")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    started = False
    try:
        with _run_lock(out):
            async with contextlib.AsyncExitStack() as stack:
                agents = []
                for model in opts.models:  # entering an agent checks the model and its server
                    agent_options = dataclasses.replace(
                        opts.agent,
                        cache_dir=str(out / model_slug(model)) if opts.agent.cache else None)
                    agents.append(await stack.enter_async_context(
                        make_agent(model, agent_options)))
                names = _model_names(opts.models, agents)
                pool = None
                if opts.fast_path and any(getattr(a, "replays", False) for a in agents):
                    pool = await stack.enter_async_context(ForkPool(opts.jobs, opts.settings))
                executor = await stack.enter_async_context(make_executor(opts, pool))
                run_id = _check_manifest(out, opts, run_id)
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
            _record_truth_hashes(out, truth_hashes)
            records = collect_sessions(out, known=made)
            summary = summarize(records)
            if invalid:
                summary["invalid_tasks"] = [{"task": k, "error": v} for k, v in invalid.items()]
            if waiting:
                summary["skipped_tasks"] = [{"task": k, "reason": v} for k, v in waiting.items()]
            atomic_write_json(out / "summary.json", summary)
    except CibenchError:
        if created and not started:
            shutil.rmtree(out, ignore_errors=True)
        raise
    errors = sum(1 for r in records if r.status != "complete")
    return RunResult(out=out, summary=summary, errors=errors, invalid=len(invalid),
                     skipped=len(waiting))


def _record_truth_hashes(out: Path, hashes: dict[str, str | None]) -> None:
    """run.json `ground_truth`: the sha256 of each task's ground-truth file its sessions were
    scored against; `cibench score` refuses ground truth that changed since."""
    path = out / "run.json"
    manifest = json.loads(path.read_text())
    recorded = manifest.get("ground_truth")
    recorded = dict(recorded) if isinstance(recorded, dict) else {}
    recorded.update({k: v for k, v in hashes.items() if v})
    atomic_write_json(path, {**manifest, "ground_truth": dict(sorted(recorded.items()))})


def _is_session_file(path: Path) -> bool:
    """Whether a file that failed to read as a session is (or was) one: anything that is not a
    readable notebook without cibench run metadata (a truncated file counts as a session)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    meta = data.get("metadata", {}) if isinstance(data, dict) else None
    if not isinstance(meta, dict):
        return True
    cibench = meta.get("cibench")
    return isinstance(cibench, dict) and "run" in cibench


def _recorded_truth_hashes(out: Path) -> dict[str, str]:
    path = out / "run.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise RunDirError(f"unreadable run manifest: {exc}", path=path) from exc
    recorded = manifest.get("ground_truth") if isinstance(manifest, dict) else None
    return {k: v for k, v in recorded.items() if isinstance(v, str)} \
        if isinstance(recorded, dict) else {}


def _checked_truth(record: SessionRecord, path: Path, oracle_dir: Path,
                   recorded: dict[str, str]) -> GroundTruth:
    """The ground truth to re-score a session against, refused (RunDirError naming the file)
    when it is missing, for another task version, changed since the run scored it, or has
    another number of steps than the notebook."""
    task_id = record.task.id
    truth = load_truth(oracle_dir, task_id)
    if truth is None or truth.source_sha256 != record.task.sha256:
        raise RunDirError(f"no ground truth for {task_id} matching the task "
                          "version this session ran", path=oracle_dir,
                          hint="pass --oracle-dir, or run `cibench validate` on the task")
    now = truth_sha256(oracle_dir, task_id)
    if task_id in recorded and now != recorded[task_id]:
        raise RunDirError(f"ground truth changed since the run scored it (sha256 "
                          f"{recorded[task_id][:12]}… in run.json, {str(now)[:12]}… now)",
                          path=truth_path(oracle_dir, task_id),
                          hint="restore the file the run used, or run the sessions again")
    if len(record.steps) != len(truth.steps):
        raise RunDirError(f"the notebook holds {len(record.steps)} steps, the task "
                          f"{len(truth.steps)}: cells were removed or added", path=path,
                          hint="re-run the session (delete the notebook, run again)")
    return truth


async def rescore(out: Path, oracle_dir: Path, scoring: str | None = None,
                  vis_judge: dict[str, Any] | None = None) -> RunResult:
    """Recompute every score of a run folder from its notebooks and stored ground truth.

    `vis_judge` (JudgeSettings.as_params()) adds or replaces the run's vision judge; without it
    the judge recorded with each session (if any) is asked again, from its cache in the folder."""
    out = Path(out)
    if not out.is_dir():
        raise RunDirError("no such run folder", path=out)
    recorded = _recorded_truth_hashes(out)
    # everything is read and checked before anything is rewritten: a refusal leaves the folder
    # as it was (an unreadable notebook would otherwise silently drop out of summary.json)
    loaded: list[tuple[Path, SessionRecord, GroundTruth | None]] = []
    for path in session_paths(out):
        try:
            record = read_session(path)
        except SchemaVersionError:
            raise  # one line: re-run it
        except RunDirError as exc:
            if not _is_session_file(path):
                log.warning("skipped: %s", exc)  # a task or scratch notebook, not a session
                continue
            raise RunDirError(f"a session notebook is unreadable ({exc.message}); re-scoring "
                              "would drop it from summary.json", path=path,
                              hint="restore the file, or delete it and run the same "
                                   "`cibench run` again to redo that session") from exc
        if scoring:
            record.run.scoring = scoring
        if vis_judge:
            record.run.params["vis_judge"] = vis_judge
        truth = _checked_truth(record, path, oracle_dir, recorded) \
            if record.status == "complete" else None
        loaded.append((path, record, truth))
    records = []
    for path, record, truth in loaded:
        if truth is not None:
            await rescore_record(record, truth, path, out)
        records.append(record)
    if not records:
        raise RunDirError("no session notebooks found", path=out)
    if scoring:
        manifest = out / "run.json"
        if manifest.is_file():
            data = json.loads(manifest.read_text())
            data["scoring"] = scoring
            atomic_write_json(manifest, data)
    summary = summarize(records)
    previous = out / "summary.json"
    if previous.is_file():  # keep what the run (or the last score) said
        kept = out / "summary.previous.json"
        os.replace(previous, kept)
        log.warning("replaced %s; the previous summary is kept as %s", previous, kept)
    atomic_write_json(out / "summary.json", summary)
    return RunResult(out=out, summary=summary,
                     errors=sum(1 for r in records if r.status != "complete"))
