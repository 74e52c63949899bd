"""The kernel pool (kernels started ahead of their sessions), the workspace it opens, and the
executor that uses them; real kernels."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from cibench.kernel_pool import KernelPool
from cibench.runner import RunOptions, run_benchmark
from cibench.task import load_task
from cibench.workspace import SessionSettings, open_workspace

from conftest import SMALL_DATA, write_task

pytestmark = pytest.mark.kernel


def _tasks(tmp_path: Path, n: int):
    steps = [{"type": "num", "instruction": "Sum of a?",
              "code": "import pandas as pd\nint(pd.read_csv('data/t.csv')['a'].sum())"}]
    return [load_task(write_task(tmp_path / "suite", f"t{i}", steps, data=SMALL_DATA))
            for i in range(n)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_workspace_runs_in_the_tasks_scratch_copy_and_close_removes_everything(
        tmp_path: Path) -> None:
    task = _tasks(tmp_path, 1)[0]
    workspace = await open_workspace(task, SessionSettings(scratch_root=tmp_path), timeout=30)
    result = await workspace.kernel.execute("import os; print(os.getcwd()); "
                                            "print(open('data/t.csv').read().split()[0])")
    cwd, header = result.stdout().split()
    assert Path(cwd) == workspace.root / "work" and header == "a,b"
    pid = workspace.kernel._km.provisioner.pid  # type: ignore[union-attr]
    await workspace.close()
    await workspace.close()  # twice is harmless
    assert not workspace.root.exists()
    await asyncio.sleep(0.2)
    assert not _alive(pid)


async def test_pool_starts_the_next_kernels_ahead_and_closes_what_was_never_taken(
        tmp_path: Path) -> None:
    tasks = _tasks(tmp_path, 4)
    async with KernelPool(SessionSettings(scratch_root=tmp_path), timeout=30, spare=2) as pool:
        pool.expect(tasks)
        first = await pool.take(tasks[0])
        assert (await first.kernel.execute("1 + 1")).ok and first.task_id == tasks[0].id
        first_pid = first.kernel._km.provisioner.pid  # type: ignore[union-attr]
        await first.close()  # handed back: shut down in the background
        # t1 and t2 started while t0 ran; t1's is ready (or starting) for its session
        second = await pool.take(tasks[1])
        assert second.task_id == tasks[1].id and pool.hits == 2 and pool.misses == 0
        await second.close()
        # out of order: a task the pool never reached gets a workspace of its own
        other = _tasks(tmp_path / "other", 1)[0]
        own = await pool.take(other)
        assert pool.misses == 1
        await own.close()
        left = [t for starting in pool._started.values() for t in starting]
        assert left, "the pool should hold kernels started for t2 and t3"
        spare = await left[0]
        pid = spare.kernel._km.provisioner.pid  # type: ignore[union-attr]
        root = spare.root
    # never taken: shut down and removed when the pool closes
    await asyncio.sleep(0.2)
    assert not _alive(pid) and not root.exists()
    assert not _alive(first_pid) and not first.root.exists()  # the pool waited for its shutdown


async def test_a_run_takes_every_kernel_from_the_pool(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="cibench.kernel_pool")
    for i in range(3):
        write_task(tmp_path / "suite", f"t{i}", [
            {"type": "num", "instruction": "Sum of a?",
             "code": "import pandas as pd\nint(pd.read_csv('data/t.csv')['a'].sum())"}],
            data=SMALL_DATA)
    result = await run_benchmark(RunOptions(paths=[str(tmp_path / "suite")], models=["oracle"],
                                            out=tmp_path / "run", jobs=1,
                                            oracle_dir=tmp_path / "oracle"))
    assert result.errors == 0 and result.summary["results"][0]["metrics"]["num_acc"] == 100.0
    assert "kernel pool: 3 sessions found their kernel started, 0 started their own" in caplog.text
