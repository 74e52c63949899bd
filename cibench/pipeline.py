"""One task, start to finish: session → score → judge → write. Re-scoring takes the same path.

    record = await evaluate(task, agent, truth, config, settings, path, run_dir)
    record = await rescore_record(record, truth, path, run_dir)

`evaluate` runs the agent × kernel session (or, for replayed check-only tasks, the fork-pool fast
path), which scores every step against the ground truth; `rescore_record` scores a recorded session
again from its notebook, no model and no kernel. Both then ask the vision judge (when the run has
one; answers cached in the run folder) and write the session notebook atomically. The runner
decides which tasks to run and when; this module is what happens to each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from pathlib import Path

from .agents.base import Agent
from .fastcheck import ForkPool, eligible, run_fast_session
from .groundtruth import GroundTruth
from .notebook import write_session
from .records import RunConfig, SessionRecord
from .session import SessionSettings, run_session, score_session
from .task import Task
from .vis_judge import judge_session
from .workspace import Workspace

log = logging.getLogger(__name__)


async def run_scored(task: Task, agent: Agent, truth: GroundTruth, config: RunConfig,
                     settings: SessionSettings, pool: ForkPool | None = None,
                     workspace: Awaitable[Workspace] | None = None, *,
                     score: bool = True) -> SessionRecord:
    """The session, scored (unless `score=False`: then `finish` scores it): a kernel session (in
    `workspace` when one was opened ahead), or the fast path for what it serves (always
    scored: its records are one small step)."""
    if pool is not None and eligible(task, agent, config.mode):
        return await run_fast_session(task, agent, truth, config, pool)
    return await run_session(task, agent, truth, config, settings, workspace, score=score)


async def finish(record: SessionRecord, truth: GroundTruth, path: Path, run_dir: Path, *,
                 scored: bool) -> SessionRecord:
    """Score the record unless it is `scored` already (CPU work, in a thread), then judge and
    write it."""
    if not scored:
        await asyncio.to_thread(score_session, record, truth)
    return await judge_and_write(record, truth, path, run_dir)


async def judge_and_write(record: SessionRecord, truth: GroundTruth, path: Path,
                          run_dir: Path) -> SessionRecord:
    """Ask the vision judge (if the run has one), then write the session notebook. The write
    runs in a thread: its fsync overlaps the next session's work."""
    await judge_session(record, run_dir)
    expected = {s.index: s.execution for s in truth.steps}
    await asyncio.to_thread(write_session, path, record, expected)
    log.debug("%s: %s written to %s", record.task.id, record.status, path)
    return record


async def evaluate(task: Task, agent: Agent, truth: GroundTruth, config: RunConfig,
                   settings: SessionSettings, path: Path, run_dir: Path,
                   pool: ForkPool | None = None) -> SessionRecord:
    """Run, score, judge and write one session."""
    record = await run_scored(task, agent, truth, config, settings, pool)
    return await judge_and_write(record, truth, path, run_dir)


async def rescore_record(record: SessionRecord, truth: GroundTruth, path: Path,
                         run_dir: Path) -> SessionRecord:
    """Score a recorded session again (new profile, new judge), then judge and write it."""
    score_session(record, truth)
    return await judge_and_write(record, truth, path, run_dir)
