"""The session replayer: drive one agent through one task, step by step, in one live kernel.

Per step: the instruction joins the history; the agent replies; its code runs in the kernel; on
error the output goes back to the agent, up to `attempts` times; the step ends at its first
attempt that executes (right or wrong) or at a reply without code (under the `cibench`
protocol a reply that is neither a tool call nor a final answer is a format error: it is sent
back and uses one of the step's attempts, as lagent's ReAct does). Then the step's hidden check
cells run, and in `oracle` mode the reference runs too and replaces the step in the history, so
every step starts from the reference state, as CIBench does. If the kernel dies or must be
restarted after a timeout, the state of earlier steps is rebuilt by re-running the code that
made it (e2e: the session's successful cells; oracle: the references) and the agent is told.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable

from .agents.base import Agent
from .agents.reply_parsing import EMPTY_CODE as CIBENCH_EMPTY_CODE  # OpenCompass's empty-code message
from .errors import AgentError, CibenchError
from .execute import FIGURES, figures_after, run_check
from .groundtruth import REFERENCE_TIMEOUT, GroundTruth, environment_fingerprint
from .kernel import KernelSession
from .records import (
    Attempt,
    Execution,
    Reply,
    RunConfig,
    SessionRecord,
    StepRecord,
    TaskRef,
    Turn,
    Usage,
)
from .scoring.aggregate import pool
from .scoring.scorer import score_step
from .tamper import describe, scan
from .task import Step, Task
from .workspace import SessionSettings, Workspace, open_workspace

log = logging.getLogger(__name__)

GIVE_UP_REPLY = "Sorry, I could not solve this step."
MAX_REPLY_CHARS = 100_000  # a reply's text and code are kept up to this (each is stored thrice)
TAMPERING = "TamperingSuspected"
CODE_TOO_LONG = "CodeTooLong"
EMPTY_CODE = "EmptyCode"


def cap_reply(reply: Reply, limit: int = MAX_REPLY_CHARS) -> tuple[Reply, str | None]:
    """The reply with its text and prose cut to `limit` characters (a 10 MB reply must not
    become a 60 MB notebook), and why its code must not run (too long), if so."""
    marker = "\n[cibench: reply cut; dropped {} characters]"
    update: dict[str, str | None] = {}
    for name in ("text", "prose"):
        value = getattr(reply, name)
        if len(value) > limit:
            update[name] = value[:limit] + marker.format(len(value) - limit)
    refused = None
    if reply.code is not None and len(reply.code) > limit:
        refused = f"the code is {len(reply.code)} characters long, over the {limit} cap; not run"
        update["code"] = reply.code[:limit] + f"\n# [cibench: code cut; {refused}]"
    return (reply.model_copy(update=update) if update else reply), refused


def refused_execution(ename: str, why: str) -> Execution:
    """An attempt whose code was not run: recorded as a failed execution of that attempt."""
    return Execution(status="error", note=f"not run: {why}", outputs=[
        {"output_type": "error", "ename": ename, "evalue": why,
         "traceback": [f"{ename}: {why}"]}])


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def task_ref(task: Task) -> TaskRef:
    return TaskRef(id=task.id, path=str(task.path), sha256=task.sha256, title=task.title,
                   module=task.module, difficulty=task.difficulty, language=task.language)


class _Replayer:
    """State of one running session: kernel, history and the cells that rebuild state."""

    def __init__(self, task: Task, agent: Agent, truth: GroundTruth, config: RunConfig,
                 kernel: KernelSession):
        self.task, self.agent, self.truth, self.config, self.kernel = (task, agent, truth,
                                                                       config, kernel)
        self.history: list[Turn] = []
        # code that rebuilds the kernel state after a restart, with the seed to set before it
        self.replay: list[tuple[int | None, str]] = [(None, code) for code in task.setup]

    async def execute(self, code: str, *, timeout: float | None = None,
                      expressions: dict[str, str] | None = None) -> Execution:
        restarts = self.kernel.restarts
        result = await self.kernel.execute(code, timeout=timeout, expressions=expressions)
        if self.kernel.restarts != restarts:
            await self.rebuild(result)
        return result

    async def rebuild(self, result: Execution) -> list[Execution]:
        """Re-run the code that made the state of earlier steps after a kernel restart."""
        failed = 0
        redone = []
        for seed, code in self.replay:
            if seed is not None:
                await self.kernel.reseed(seed)
            redo = await self.kernel.execute(code, timeout=REFERENCE_TIMEOUT)
            redone.append(redo)
            failed += 0 if redo.ok else 1
        what = "the session's earlier successful cells" if self.config.mode == "e2e" \
            else "the reference solutions of earlier steps"
        result.note += (f"; state restored by re-running {what} ({len(self.replay)} cells"
                        + (f", {failed} failed" if failed else "") + ")")
        log.info("%s: kernel state rebuilt from %d cells", self.task.id, len(self.replay))
        return redone

    async def run_step(self, step: Step) -> StepRecord:
        record = StepRecord(index=step.index, type=step.type, instruction=step.instruction,
                            reference=step.reference, options=step.options)
        start = len(self.history)
        self.history.append(Turn(role="user", text=step.instruction, step=step.index))
        for number in range(1, self.config.attempts + 1):
            if await self._attempt(step, record, number):
                break
        else:
            record.gave_up = True
            if self.config.mode == "e2e":
                del self.history[start + 1:]
                self.history.append(Turn(role="assistant", text=GIVE_UP_REPLY, step=step.index))
        if step.checks:
            record.check_code = "\n\n".join(step.checks)
            record.check = await run_check(self.kernel, record.check_code, self.execute)
        if self.config.mode == "oracle":
            await self._reference(step, record, start)
        return record

    async def _attempt(self, step: Step, record: StepRecord, number: int) -> bool:
        """One attempt at the step: the agent's reply and, when it holds code that may run, its
        execution. True when the step ends here (code that ran without error, a reply without
        code, tampering); False when it goes on to the next attempt."""
        reply, too_long = cap_reply(await self.agent.reply(self.task, step, list(self.history)))
        attempt = Attempt(index=number, reply=reply)
        record.attempts.append(attempt)
        self.history.append(Turn(role="assistant", text=reply.text, code=reply.code,
                                 tool_call_id=reply.tool_call_id, step=step.index))
        if reply.code is None and reply.format_error:
            # the `cibench` protocol: the reply is neither a tool call nor a final answer;
            # lagent sends a format error back and the step goes on (one turn used)
            self.history.append(Turn(role="tool", text=reply.format_error, step=step.index))
            return False
        if reply.code is None:
            return True  # a reply without code ends the step without a tool call
        if not reply.code:  # the `cibench` protocol: an action with empty input
            attempt.execution = refused_execution(EMPTY_CODE, CIBENCH_EMPTY_CODE)
        else:
            attempt.tampering = [] if too_long else [str(f) for f in scan(reply.code)]
        if attempt.tampering or too_long:
            why = too_long or ("tampering suspected: it changes IPython/kernel internals ("
                               + describe(scan(reply.code)) + ")")
            attempt.execution = refused_execution(CODE_TOO_LONG if too_long else TAMPERING, why)
            log.warning("%s step %d attempt %d: %s", self.task.id, step.index, number, why)
        if attempt.execution is None:
            await self.kernel.reseed(step.index)
            attempt.execution = await self.execute(reply.code, expressions=FIGURES)
            # the step's figure data is that of its last attempt that ran, like its outputs
            record.figure_data = await figures_after(self.kernel) or None
            if attempt.execution.ok and self.config.mode == "e2e":
                self.replay.append((step.index, reply.code))
        self.history.append(Turn(role="tool", execution=attempt.execution,
                                 tool_call_id=reply.tool_call_id, step=step.index))
        # tampering fails the step whatever comes next
        return bool(attempt.tampering) or (attempt.execution.ok and not too_long
                                            and bool(reply.code))

    async def _reference(self, step: Step, record: StepRecord, start: int) -> None:
        """Oracle mode: the reference runs after the model's attempts and replaces them in the
        history, so the next step starts from the reference state."""
        self.replay.append((step.index, step.reference))
        await self.kernel.reseed(step.index)
        record.reference_run = await self.execute(step.reference, timeout=REFERENCE_TIMEOUT,
                                                  expressions=FIGURES)
        if record.reference_run.status == "error":
            # the model's code broke what the reference needs: start over from references
            first = record.reference_run
            await self.kernel.restart()
            record.reference_run = (await self.rebuild(first))[-1]
            record.reference_run.note = (f"first run failed ({first.error_name}) on the "
                                         f"model's state; {first.note.lstrip('; ')}")
        await figures_after(self.kernel)  # cleared: the next step's are its own
        del self.history[start + 1:]
        self.history.append(Turn(role="assistant", text=f"```python\n{step.reference}\n```",
                                 code=step.reference, step=step.index,
                                 tool_call_id=f"ref-{step.index}"))
        self.history.append(Turn(role="tool", execution=record.reference_run,
                                 step=step.index, tool_call_id=f"ref-{step.index}"))


def score_session(record: SessionRecord, truth: GroundTruth) -> None:
    """(Re)compute every step score and the session totals from the record and ground truth."""
    for step_record, truth_step in zip(record.steps, truth.steps, strict=False):
        truth_checks_ok = all(c.ok for c in truth_step.checks)
        step_record.score = score_step(step_record, truth_step.execution, truth_checks_ok,
                                       truth_step.figure_data, record.run.scoring)
    record.scores = pool(record.steps)


async def run_session(task: Task, agent: Agent, truth: GroundTruth, config: RunConfig,
                      settings: SessionSettings | None = None,
                      workspace: Awaitable[Workspace] | None = None, *,
                      score: bool = True) -> SessionRecord:
    """Run one task with one agent; infrastructure failures end in status `error`, not a raise.
    `workspace` is one opened ahead for this task (kernel_pool.py); without it one is opened
    here. Either way it is closed when the session ends. With `score=False` the record comes
    back unscored (the caller scores it with `score_session`, e.g. after freeing its slot)."""
    settings = settings or SessionSettings()
    record = SessionRecord(run=config, task=task_ref(task), started=_now(),
                           environment=environment_fingerprint())
    opened: Workspace | None = None
    try:
        opened = await (workspace if workspace is not None
                        else open_workspace(task, settings, config.timeout))
        kernel = opened.kernel
        replayer = _Replayer(task, agent, truth, config, kernel)
        for i, code in enumerate(task.setup, 1):
            result = await kernel.execute(code, timeout=REFERENCE_TIMEOUT)
            if not result.ok:
                raise CibenchError(f"setup cell {i} failed: {result.error_name}",
                                   path=task.path)
        for step in task.steps:
            record.steps.append(await replayer.run_step(step))
    except (AgentError, CibenchError) as exc:
        record.status, record.error = "error", str(exc)
        log.error("%s: %s", task.id, exc)
    finally:
        if opened is not None:
            await opened.close()
    if not score:
        return finish_record(record, truth, score=False)
    # scoring (SSIM, figure data) is CPU work: in a thread, so other sessions' kernels and
    # model calls go on meanwhile
    return await asyncio.to_thread(finish_record, record, truth)


def finish_record(record: SessionRecord, truth: GroundTruth, *, score: bool = True) -> SessionRecord:
    """Close a session's record: end time, usage and kernel time summed over its attempts,
    and the scores when it completed."""
    record.finished = _now()
    record.usage = Usage()
    for step_record in record.steps:
        for attempt in step_record.attempts:
            record.usage.add(attempt.reply.usage)
            if attempt.execution is not None:
                record.kernel_seconds += attempt.execution.seconds
    record.kernel_seconds = round(record.kernel_seconds, 3)
    if score and record.status == "complete":
        score_session(record, truth)
    return record
