"""Kernels started ahead of time, so a session never waits for its kernel to start.

The runner tells the pool which sessions will run, in order (`expect`); the pool opens the
workspace (scratch folder with the task's data, sandbox, started kernel) of the next ones in the
background, at most `spare` at a time beyond those already taken. A session `take`s its own:
started or starting, it is handed over as is; a task the pool did not start for (or one taken
out of order) gets a workspace opened on the spot. Each workspace belongs to one session and is
closed by it (`session.run_session`), so a kernel never carries state from one task to the next;
the pool shuts it down in the background, off the next session's critical path. `aclose` cancels
what was started but never taken, shuts it down, and waits for every shutdown.

    async with KernelPool(settings, timeout=60, spare=2) as pool:
        pool.expect(tasks)
        record = await run_session(task, agent, truth, config, settings, pool.take(task))
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterable

from .concurrency import usable_cores
from .task import Task
from .workspace import SessionSettings, Workspace, open_workspace

log = logging.getLogger(__name__)


class KernelPool:
    def __init__(self, settings: SessionSettings, timeout: float, spare: int,
                 starting: int | None = None):
        self.settings, self.timeout, self.spare = settings, timeout, max(0, spare)
        # kernels starting at once: a start is ~0.5 s of CPU, so 64 sessions starting together
        # on 2 cores would each take 30 s and risk the start's timeout; in turn, each is quick
        self._start_slots = asyncio.Semaphore(starting or 2 * usable_cores())
        self._waiting: deque[Task] = deque()  # expected, not yet started
        self._started: dict[str, list[asyncio.Task[Workspace]]] = {}
        self._closed = False
        self._closing: set[asyncio.Task[None]] = set()  # workspaces shutting down
        self.hits = 0  # sessions that found their kernel started (or starting)
        self.misses = 0  # sessions that had to start their own

    async def __aenter__(self) -> KernelPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def expect(self, tasks: Iterable[Task]) -> None:
        """Sessions of these tasks will run next, in this order."""
        self._waiting.extend(tasks)
        self._top_up()

    def _spares(self) -> int:
        return sum(len(v) for v in self._started.values())

    def _top_up(self) -> None:
        while not self._closed and self._waiting and self._spares() < self.spare:
            task = self._waiting.popleft()
            started = asyncio.create_task(self._open(task), name=f"kernel for {task.id}")
            self._started.setdefault(task.id, []).append(started)

    async def take(self, task: Task) -> Workspace:
        """The workspace of the next session of `task`: one started ahead, or a new one. May
        raise what opening it raised (KernelError, SandboxError)."""
        started = self._started.get(task.id)
        if started:
            opening = started.pop(0)
            if not started:
                del self._started[task.id]
            self.hits += 1
        else:
            with contextlib.suppress(ValueError):
                self._waiting.remove(task)  # its turn came before the pool reached it
            opening = None
            self.misses += 1
        self._top_up()
        workspace = await (opening if opening is not None else self._open(task))
        workspace.closer = self._close_later
        return workspace

    async def _open(self, task: Task) -> Workspace:
        async with self._start_slots:
            return await open_workspace(task, self.settings, self.timeout)

    def _close_later(self, workspace: Workspace) -> None:
        """Shut a session's workspace down in the background (now, not on the session's time);
        `aclose` waits for every one."""
        closing = asyncio.create_task(workspace.shutdown(), name=f"close {workspace.task_id}")
        self._closing.add(closing)
        closing.add_done_callback(self._closed_one)

    def _closed_one(self, closing: asyncio.Task[None]) -> None:
        self._closing.discard(closing)
        if not closing.cancelled() and closing.exception() is not None:
            log.warning("closing a session's kernel failed: %r", closing.exception())

    async def aclose(self) -> None:
        """Stop starting kernels; shut down those started and never taken."""
        self._closed = True
        self._waiting.clear()
        left = [t for tasks in self._started.values() for t in tasks]
        self._started.clear()
        for opening in left:
            opening.cancel()
        for opening in left:
            try:
                workspace = await opening
            except (asyncio.CancelledError, Exception) as exc:  # cancelled or failed: nothing left
                log.debug("unused kernel: %r", exc)
                continue
            await workspace.close()
        while self._closing:  # shut down before the run ends: nothing outlives it
            await asyncio.gather(*list(self._closing), return_exceptions=True)
        if self.hits or self.misses:
            log.info("kernel pool: %d sessions found their kernel started, %d started their own",
                     self.hits, self.misses)
