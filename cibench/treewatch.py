"""A memory limit for a kernel's whole process tree, not only the kernel process.

`RLIMIT_AS` (prlimit) bounds each process: a cell that starts eight workers gets eight times the
limit. This watchdog sums the resident memory of every process of the session (its own uid, or
the kernel's process groups under `--kernel-user off`) twice a second; past the limit it kills
them all, the kernel included, and the session records the kernel's death with the reason and
restarts it, as for any other death. (A cgroup's memory controller would do this in the kernel;
cibench cannot count on a writable cgroup v2 hierarchy, so it polls.)
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

INTERVAL = 0.5
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes(pids: list[int]) -> int:
    """Resident memory of these processes together (those that vanished count 0)."""
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            continue
    return total


class TreeWatch:
    """Polls `members()` (the session's live pids); past `limit_mb` calls `kill()` once per
    excess and keeps the reason in `tripped` until `take()` reads it."""

    def __init__(self, limit_mb: int, members: Callable[[], list[int]],
                 kill: Callable[[], object], interval: float = INTERVAL):
        self.limit = limit_mb * 1024 * 1024
        self.members, self.kill, self.interval = members, kill, interval
        self.tripped = ""
        self._task: asyncio.Task | None = None
        self._killing: asyncio.Task | None = None  # a kill in progress (it can take seconds)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    async def settled(self) -> None:
        """Wait until no kill is in progress: a kernel restarted as the same uid while the
        uid-wide sweep still runs would be swept too."""
        if self._killing is not None:
            await asyncio.shield(self._killing)

    def take(self) -> str:
        reason, self.tripped = self.tripped, ""
        return reason

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                used = await asyncio.to_thread(lambda: rss_bytes(self.members()))
                if used > self.limit:
                    self.tripped = (f"its processes used {used // 2 ** 20} MiB together, over "
                                    f"the {self.limit // 2 ** 20} MiB memory limit")
                    log.info("process tree over the memory limit: %s; killing it", self.tripped)
                    self._killing = asyncio.ensure_future(asyncio.to_thread(self.kill))
                    try:
                        await asyncio.shield(self._killing)
                    finally:
                        self._killing = None
            except Exception as exc:  # the watchdog must never take the session down
                log.debug("tree watch: %s", exc)
