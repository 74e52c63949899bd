"""Where one session runs: its scratch folder, its sandbox and its live kernel, opened and closed
together. `session.run_session` uses one; `kernel_pool.KernelPool` opens them ahead of time so a
kernel's start leaves the critical path.

    workspace = await open_workspace(task, settings, timeout=60)
    try:
        await workspace.kernel.execute("1 + 1")
    finally:
        await workspace.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .fsutil import make_sandbox_dirs, remove_tree
from .kernel import INTERRUPT_GRACE, KernelLimits, KernelSession, OutputCaps, startup_code
from .sandbox import Sandbox, SandboxOptions
from .task import Task

log = logging.getLogger(__name__)


@dataclass
class SessionSettings:
    """How sessions run, beyond the run config: kernel limits, output caps, containment."""

    limits: KernelLimits = field(default_factory=KernelLimits)
    caps: OutputCaps = field(default_factory=OutputCaps)
    scratch_root: Path | None = None
    keep_scratch: bool = False
    cmd_prefix: list[str] = field(default_factory=list)
    sandbox: SandboxOptions | None = None  # None: the kernel runs as the invoking user
    interrupt_grace: float = INTERRUPT_GRACE  # s to wait for an interrupted cell before restart
    secret_env: tuple[str, ...] = ()  # variables holding the run's keys: never in a kernel


@dataclass
class Workspace:
    """A session's folder (`root`: `work/` is the kernel's cwd, `home/` its HOME), its sandbox
    (None: the kernel runs as the invoking user) and its started kernel."""

    task_id: str
    root: Path
    kernel: KernelSession
    sandbox: Sandbox | None
    keep_scratch: bool = False
    start_seconds: float = 0.0  # how long the kernel took to start
    #: set by a pool: `close` hands the workspace to it, which shuts it down in the background
    #: (a kernel's shutdown takes ~0.1 s the next session need not wait for)
    closer: Callable[[Workspace], None] | None = None
    _closed: bool = field(default=False, init=False, repr=False)

    async def close(self) -> None:
        """Shut the kernel down, reap what the sandbox uid left running, remove the folder
        (now, or through the `closer`). Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self.closer is not None:
            self.closer(self)
            return
        await self.shutdown()

    async def shutdown(self) -> None:
        """What `close` does, always now."""
        try:
            await self.kernel.shutdown()
        finally:
            if self.sandbox is not None:
                await asyncio.to_thread(self.sandbox.reap)
            if not self.keep_scratch:
                await asyncio.to_thread(remove_tree, self.root)


async def open_workspace(task: Task, settings: SessionSettings, timeout: float) -> Workspace:
    """A fresh folder, sandbox and started kernel for one session of `task`. Raises
    `KernelError`/`SandboxError` (and leaves nothing behind) when the kernel cannot start."""
    root, scratch, home = await asyncio.to_thread(make_sandbox_dirs, task, settings.scratch_root)
    sandbox = None
    kernel: KernelSession | None = None
    limits = settings.limits
    try:
        if settings.sandbox is not None:
            sandbox = Sandbox.for_session(settings.sandbox, home=home)
        if (sandbox is None or not sandbox.own_uid) and limits.processes:
            # RLIMIT_NPROC counts every process of the uid (all of root's or the user's),
            # and root ignores it: only meaningful for a uid of the session's own
            limits = dataclasses.replace(limits, processes=None)
        kernel = KernelSession(scratch, timeout=timeout, limits=limits, caps=settings.caps,
                               startup_code=startup_code(), cmd_prefix=settings.cmd_prefix,
                               sandbox=sandbox, interrupt_grace=settings.interrupt_grace,
                               secret_env=settings.secret_env)
        started = time.monotonic()
        await kernel.start()
    except BaseException:  # also a cancelled start (a pool closing): nothing may outlive it
        if kernel is not None:
            with contextlib.suppress(Exception):
                await kernel.shutdown()
        if sandbox is not None:
            await asyncio.to_thread(sandbox.reap)
        if not settings.keep_scratch:
            await asyncio.to_thread(remove_tree, root)
        raise
    seconds = time.monotonic() - started
    log.debug("%s: workspace ready in %.2f s (%s)", task.id, seconds, root)
    return Workspace(task_id=task.id, root=root, kernel=kernel, sandbox=sandbox,
                     keep_scratch=settings.keep_scratch, start_seconds=seconds)
