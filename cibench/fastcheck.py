"""The fast path: replayed answers of check-only single-step tasks without a Jupyter kernel.

Scoring a replayed CRUXEval generation needs one assignment and one hidden check; starting a
kernel per sample (0.65 s) would cost far more than the check. For a replay agent
(`--model answers:FILE`, e2e mode) and a task with one `check` step, no setup cells and no
`data/` folder, `run_fast_session` runs the attempts and the check in a fresh child process
forked from a warm worker (`_forkworker.py`: the kernel's startup code already run, its modules
imported), instead of a kernel; everything after that (record, scores, session notebook) is the
ordinary session's.

Isolation of one check (docs/importers.md):
- the worker is started with the same containment prefix as a session kernel (`Sandbox`: its
  own uid when cibench runs as root, `--no-network`, the `prlimit` memory/CPU/file-size limits)
  and the kernel's scrubbed environment (no keys);
- each request is served by a child forked from the worker: a copy-on-write image, so nothing
  it changes in memory reaches the worker or the next check; it leads its own process group,
  works in a fresh folder (removed after), has stdin and file descriptors 1/2 on /dev/null;
- the worker waits `time_limit + 1` s per cell (CRUXEval: 3 s, as its `check_correctness`
  joins after timeout + 1), then, and in any case when the request is done, kills the child's
  whole process group; a cell that timed out or died is recorded as such and the cells left
  run in a new child (as a kernel restart would).
Not like the kernel: IPython features (magics, `display`, rich reprs) are absent, and output
written by C code or subprocesses to file descriptors 1/2 is not captured. The tasks taken
(one check step, no data, no setup) are scored only on whether the attempt runs and the check
passes, which the fast path records exactly as the kernel would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from .errors import KernelError
from .fsutil import remove_tree
from .groundtruth import GroundTruth, TruthStep, environment_fingerprint
from .kernel import KERNEL_NAME, kernels_dir, scrubbed_environment
from .kernel_env import kernel_python
from .records import Attempt, Execution, RunConfig, SessionRecord, StepRecord
from .sandbox import Sandbox
from .session import SessionSettings, finish_record, task_ref
from .task import Task

log = logging.getLogger(__name__)

WORKER = Path(__file__).with_name("_forkworker.py")
FAST_NOTE = "fast path: run in a process forked from a warm worker, not in a kernel"


def eligible(task: Task, agent: Any, mode: str) -> bool:
    """A replayed check-only single-step task with nothing to set up: the fast path applies."""
    return (getattr(agent, "replays", False) and mode == "e2e" and len(task.steps) == 1
            and task.steps[0].type == "check" and not task.setup
            and not task.data_dir.exists())


def truth_eligible(task: Task) -> bool:
    return len(task.steps) == 1 and task.steps[0].type == "check" and not task.setup \
        and not task.data_dir.exists()


def cell_timeout(task: Task, timeout: float) -> float:
    """Seconds the worker waits for one cell: the step's `time_limit` + 1 (CRUXEval joins its
    check process after timeout + 1), never more than --timeout."""
    limit = task.steps[0].options.get("time_limit")
    if isinstance(limit, (int, float)) and limit > 0:
        return min(timeout, float(limit) + 1.0)
    return timeout


class _Worker:
    def __init__(self, settings: SessionSettings):
        self.settings = settings
        self.proc: asyncio.subprocess.Process | None = None
        self.top: Path | None = None
        self.work: Path | None = None
        self.sandbox: Sandbox | None = None

    async def start(self) -> None:
        self.top = Path(tempfile.mkdtemp(prefix="cibench-fast-"))
        self.work, home = self.top / "work", self.top / "home"
        self.work.mkdir()
        home.mkdir()
        limits = self.settings.limits
        box = Sandbox.for_session(self.settings.sandbox, home=home) \
            if self.settings.sandbox is not None else None
        if (box is None or not box.own_uid) and limits.processes:
            limits = dataclasses.replace(limits, processes=None)
        # the worker runs as the session's uid, which may not read cibench's own folder (a clone
        # in a 0700 directory): its script and startup code are copied into its folder, and it
        # runs in the kernels' Python, which every uid can run (kernel_env)
        worker, startup = self.top / WORKER.name, self.top / "startup.py"
        shutil.copyfile(WORKER, worker)
        shutil.copyfile(kernels_dir() / KERNEL_NAME / "startup.py", startup)
        env = scrubbed_environment()
        prefix = list(self.settings.cmd_prefix)
        if box is not None:
            env = box.environment(env)
            box.prepare(self.top)
            prefix += box.prefix(limits.prlimit_prefix())
        else:
            prefix += limits.prlimit_prefix()
        self.sandbox = box
        cmd = [*prefix, kernel_python(), "-u", str(worker), str(startup)]
        self.proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, cwd=str(self.work), env=env, limit=1 << 26)
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)  # type: ignore[union-attr]
        if not line:
            await self.close()
            raise KernelError("the fast-path worker did not start", path=WORKER,
                              hint="run with --debug; or score with kernels (a non-replay model)")

    async def request(self, req: dict[str, Any]) -> dict[str, Any]:
        if self.proc is None or self.proc.returncode is not None:
            await self.close()
            await self.start()
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        req = {**req, "root": str(self.work)}
        self.proc.stdin.write((json.dumps(req) + "\n").encode())
        await self.proc.stdin.drain()
        line = await self.proc.stdout.readline()
        if not line:
            await self.close()
            raise KernelError("the fast-path worker died", path=WORKER)
        reply = json.loads(line)
        if "error" in reply:
            raise KernelError(f"the fast-path worker failed: {reply['error']}", path=WORKER)
        return reply

    async def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.returncode is None:
            if proc.stdin:
                proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self.sandbox is not None:
            self.sandbox.reap()
        if self.top is not None:
            remove_tree(self.top)
            self.top = None


class ForkPool:
    """`size` warm workers, started on first use; `async with` shuts them down."""

    def __init__(self, size: int, settings: SessionSettings):
        self.size = max(1, size)
        self.settings = settings
        self._idle: asyncio.Queue[_Worker] | None = None
        self._all: list[_Worker] = []

    async def __aenter__(self) -> ForkPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for worker in self._all:
            await worker.close()
        self._all.clear()

    async def run(self, items: list[dict[str, str]], timeout: float, seed: int
                  ) -> list[dict[str, Any]]:
        if self._idle is None:
            self._idle = asyncio.Queue()
            for _ in range(self.size):
                worker = _Worker(self.settings)
                self._all.append(worker)
                self._idle.put_nowait(worker)
        worker = await self._idle.get()
        try:
            if worker.proc is None:
                await worker.start()
            reply = await worker.request({"items": items, "timeout": timeout, "seed": seed,
                                          "text_limit": self.settings.caps.text_chars})
        finally:
            self._idle.put_nowait(worker)
        return reply["results"]


def _execution(res: dict[str, Any] | None, count: int) -> Execution:
    if res is None:
        return Execution(status="skipped", note="not run")
    outputs: list[dict[str, Any]] = []
    if res.get("stdout"):
        outputs.append({"output_type": "stream", "name": "stdout", "text": res["stdout"]})
    if res.get("stderr"):
        outputs.append({"output_type": "stream", "name": "stderr", "text": res["stderr"]})
    if res.get("result") is not None:
        outputs.append({"output_type": "execute_result", "execution_count": count,
                        "data": {"text/plain": res["result"]}, "metadata": {}})
    if res.get("error"):
        err = res["error"]
        outputs.append({"output_type": "error", "ename": err["ename"], "evalue": err["evalue"],
                        "traceback": err.get("traceback", [])})
    note = "; ".join(n for n in (res.get("note", ""), FAST_NOTE) if n)
    return Execution(status=res["status"], outputs=outputs, seconds=res.get("seconds", 0.0),
                     truncated=bool(res.get("truncated")), note=note)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


async def run_fast_session(task: Task, agent: Any, truth: GroundTruth, config: RunConfig,
                           pool: ForkPool) -> SessionRecord:
    """One session of a replay agent on a check-only single-step task, on the fast path."""
    record = SessionRecord(run=config, task=task_ref(task), started=_now(),
                           environment=environment_fingerprint())
    step = task.steps[0]
    replies = agent.replies(task, step, config.attempts)
    items = [{"kind": "attempt", "code": r.code} for r in replies if r.code is not None]
    check_code = "\n\n".join(step.checks)
    if check_code:
        items.append({"kind": "check", "code": check_code})
    try:
        results = await pool.run(items, cell_timeout(task, config.timeout), step.index) \
            if items else []
    except KernelError as exc:
        record.status, record.error = "error", str(exc)
        log.error("%s: %s", task.id, exc)
        results = []
    by_index = {r["i"]: r for r in results}
    step_rec = StepRecord(index=step.index, type=step.type, instruction=step.instruction,
                          reference=step.reference, options=step.options)
    code_i = 0
    for k, reply in enumerate(replies, 1):
        attempt = Attempt(index=k, reply=reply)
        step_rec.attempts.append(attempt)
        if reply.code is None:
            break
        attempt.execution = _execution(by_index.get(code_i), k)
        code_i += 1
        if attempt.execution.ok:
            break
    else:
        if replies and all(a.execution is not None and not a.execution.ok
                           for a in step_rec.attempts) and len(replies) >= config.attempts:
            step_rec.gave_up = True
    if check_code:
        step_rec.check_code = check_code
        step_rec.check = _execution(by_index.get(len(items) - 1), 0)
    record.steps = [step_rec]
    return finish_record(record, truth)


async def build_truth_fast(task: Task, pool: ForkPool) -> GroundTruth:
    """Ground truth of a check-only single-step task, on the fast path (the reference must run
    and its check pass, as `build_truth` demands)."""
    from .errors import GroundTruthError

    started = time.monotonic()
    step = task.steps[0]
    check_code = "\n\n".join(step.checks)
    items = [{"kind": "attempt", "code": step.reference}, {"kind": "check", "code": check_code}]
    results = await pool.run(items, cell_timeout(task, 120.0), step.index)
    by_index = {r["i"]: r for r in results}
    ref = _execution(by_index.get(0), 1)
    if not ref.ok:
        raise GroundTruthError(f"reference code fails: {ref.error_name or ref.status}",
                               path=task.path, cell=step.cell, step=step.index)
    check = _execution(by_index.get(1), 0)
    if not check.ok:
        raise GroundTruthError(f"check cell fails on the reference: "
                               f"{check.error_name or check.status}", path=task.path,
                               step=step.index)
    for ex in (ref, check):
        ex.note = ""
    return GroundTruth(task_id=task.id, source_sha256=task.sha256,
                       environment=environment_fingerprint(),
                       created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       seconds=round(time.monotonic() - started, 2),
                       steps=[TruthStep(index=step.index, type=step.type, execution=ref,
                                        checks=[check], figure_data=[])])
