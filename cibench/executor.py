"""Where sessions run. The runner decides which sessions run and how many at once; an executor
runs each one and hands back its record, scored or not (`scores_sessions`); the runner's process
scores what is not, judges and writes the run folder, whatever ran the session.

- `LocalExecutor`: in this process, each session's kernel started ahead by a `KernelPool`.
- `ray_executor.RayExecutor` (`--executor ray`): on Ray workers.

    async with LocalExecutor(settings, timeout=60, spare=2) as executor:
        executor.expect(jobs)                 # the sessions about to run, in order
        record = await executor.run(job, agent)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .agents.base import Agent, AgentOptions
from .fastcheck import ForkPool, eligible
from .groundtruth import GroundTruth
from .kernel_pool import KernelPool
from .pipeline import run_scored
from .records import RunConfig, SessionRecord
from .task import Task
from .workspace import SessionSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionJob:
    """One session to run: everything a worker needs, in plain picklable values."""

    task: Task
    truth: GroundTruth
    config: RunConfig
    model: str  # the --model spec: how a worker elsewhere builds its own agent
    agent_options: AgentOptions
    settings: SessionSettings


class Executor(Protocol):
    name: str
    #: whether `run` hands back scored records (else the runner scores them after the session
    #: has freed its slot: scoring is CPU work the next session need not wait for)
    scores_sessions: bool

    async def __aenter__(self) -> Executor: ...

    async def __aexit__(self, *exc: object) -> None: ...

    def expect(self, jobs: Sequence[SessionJob], agent: Agent) -> None:
        """The sessions about to run with `agent`, in the order they will be asked for."""

    async def run(self, job: SessionJob, agent: Agent) -> SessionRecord:
        """Run one session; infrastructure failures end in a record with status `error`."""


class LocalExecutor:
    """Sessions in this process; kernels started ahead (at most `spare` waiting)."""

    name = "local"
    scores_sessions = False

    def __init__(self, settings: SessionSettings, timeout: float, spare: int,
                 fork_pool: ForkPool | None = None):
        self.kernels = KernelPool(settings, timeout, spare)
        self.fork_pool = fork_pool

    async def __aenter__(self) -> LocalExecutor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.kernels.aclose()

    def _needs_kernel(self, job: SessionJob, agent: Agent) -> bool:
        return self.fork_pool is None or not eligible(job.task, agent, job.config.mode)

    def expect(self, jobs: Sequence[SessionJob], agent: Agent) -> None:
        self.kernels.expect(j.task for j in jobs if self._needs_kernel(j, agent))

    async def run(self, job: SessionJob, agent: Agent) -> SessionRecord:
        workspace = self.kernels.take(job.task) if self._needs_kernel(job, agent) else None
        return await run_scored(job.task, agent, job.truth, job.config, job.settings,
                                self.fork_pool, workspace=workspace, score=False)
