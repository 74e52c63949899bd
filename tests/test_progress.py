"""Live progress (cibench/progress.py) and the end-of-run table."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from cibench.progress import LineProgress, NullProgress, Tally, make_progress
from cibench.records import RunConfig, SessionRecord, StepRecord, StepScore, TaskRef, Usage

from conftest import SMALL_DATA, SMALL_STEPS, write_task


def _record(passed: list[bool], calls: int = 2, cost: float | None = 0.01, status: str = "complete"):
    steps = [StepRecord(index=i + 1, type="num", instruction="", reference="",
                        score=StepScore(passed=p)) for i, p in enumerate(passed)]
    return SessionRecord(run=RunConfig(run_id="r", model="m"), status=status,
                         task=TaskRef(id="s/t", path="t.ipynb", sha256="0"), steps=steps,
                         usage=Usage(model_calls=calls, tokens_in=100, tokens_out=50, cost_usd=cost))


def test_tally_counts_steps_calls_tokens_and_cost():
    tally = Tally()
    tally.total = 4
    tally.add(_record([True, False]), skipped=False)
    tally.add(_record([True, True, True]), skipped=True)  # resumed: its calls were paid before
    assert (tally.done, tally.steps, tally.passed, tally.calls, tally.tokens) == (2, 5, 4, 2, 150)
    assert tally.stats() == "5 steps 80% pass · 2 calls · 150 tok · $0.01 · 1 resumed"
    tally.add(_record([False], cost=None, status="error"), skipped=False)
    assert "$?" in tally.stats() and "1 errors" in tally.stats()  # unknown cost stays unknown
    assert tally.eta() is not None


def test_line_progress_prints_periodically_and_at_the_end():
    stream = io.StringIO()
    progress = LineProgress(stream, interval=3600)
    progress.add_total(2, "m · e2e")
    progress.session_done(_record([True]))
    assert stream.getvalue() == ""  # not yet: the interval has not passed
    progress.session_done(_record([False]))
    progress.close()
    line = stream.getvalue().strip()
    assert line.startswith("progress: m · e2e 2/2 · 2 steps 50% pass") and "elapsed 0:00" in line


def test_quiet_and_pipes_get_no_live_display():
    assert isinstance(make_progress(False), NullProgress)
    assert isinstance(make_progress(True, io.StringIO()), LineProgress)


@pytest.mark.kernel
def test_run_ends_with_a_table_and_a_progress_line(tmp_path):
    write_task(tmp_path / "suite", "small", SMALL_STEPS, data=SMALL_DATA)
    done = subprocess.run([sys.executable, "-m", "cibench", "run", str(tmp_path / "suite"),
                           "--model", "oracle", "--out", str(tmp_path / "run"),
                           "--oracle-dir", str(tmp_path / "oracle"), "--kernel-user", "off"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "progress: oracle · e2e 1/1 · 5 steps 100% pass" in done.stderr
    header = next(line for line in done.stdout.splitlines() if line.strip().startswith("model"))
    assert header.split() == ["model", "mode", "tasks", "steps", "Tool", "Exe", "Num", "Text",
                              "Vis", "Check", "err"]
    row = next(line for line in done.stdout.splitlines() if line.strip().startswith("oracle"))
    assert row.split() == ["oracle", "e2e", "1", "5"] + ["100.0"] * 6 + ["0"]
