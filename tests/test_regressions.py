"""Regressions found in review: answers, figures, resume, round trip, bad folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cibench.groundtruth import ensure_truth
from cibench.notebook import read_session, render_session
from cibench.records import RunConfig
from cibench.runner import RunOptions, run_benchmark
from cibench.session import run_session
from cibench.task import load_task

from conftest import SMALL_DATA, SMALL_STEPS, write_task
from scripted import ScriptedAgent

pytestmark = pytest.mark.kernel


async def _session(task_path: Path, tmp_path: Path, script: dict, mode: str = "e2e"):
    task = load_task(task_path)
    truth = await ensure_truth(task, tmp_path / "oracle")
    config = RunConfig(run_id="t", model="scripted", mode=mode, protocol="scripted", attempts=3)
    return await run_session(task, ScriptedAgent(script), truth, config)


async def test_stderr_is_not_part_of_the_answer(tmp_path: Path) -> None:
    steps = [SMALL_STEPS[0], {"type": "num", "instruction": "Sum of a?",
                              "code": "import warnings\nwarnings.warn('careful')\n"
                                      "int(df['a'].sum())"}]
    task = write_task(tmp_path / "s", "warn", steps, data=SMALL_DATA)
    right = await _session(task, tmp_path, {2: ["int(df['a'].sum())"]})
    assert right.steps[1].score.num == 1.0, right.steps[1].score.note
    wrong = await _session(task, tmp_path, {
        2: ["import warnings\nwarnings.warn('deprecated in 6.0')\nprint('sum')"]})
    assert wrong.steps[1].score.num == 0.0


async def test_vis_is_scored_on_the_final_attempt_only(small_task: Path, tmp_path: Path) -> None:
    record = await _session(small_task, tmp_path, {4: [
        "import matplotlib.pyplot as plt\nplt.plot(df['a'], df['b'])\nplt.show()\nraise ValueError",
        "print('done')"]})
    step = record.steps[3]
    assert len(step.attempts) == 2 and step.figure_data is None
    assert not step.score.passed and step.score.vis == 0.0


async def test_wrong_figure_with_high_ssim_fails_on_plotted_data(small_task: Path,
                                                                tmp_path: Path) -> None:
    record = await _session(small_task, tmp_path, {4: [
        "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [7, 5, 4])\nplt.show()"]})
    step = record.steps[3]
    assert step.score.vis_data is not None and step.score.vis_data < 0.9
    assert not step.score.passed


async def test_record_survives_the_notebook_round_trip(small_task: Path, tmp_path: Path) -> None:
    for mode in ("e2e", "oracle"):
        record = await _session(small_task, tmp_path, {
            1: ["df = pd.read_csv('data/t.csv')", None], 2: [None], 3: ["del df\nprint('a,b')"]},
            mode)
        path = tmp_path / f"{mode}.ipynb"
        nbformat.write(render_session(record), path)
        assert read_session(path).model_dump() == record.model_dump(), mode


async def test_resume_redoes_sessions_of_a_changed_task(small_task: Path, tmp_path: Path) -> None:
    opts = dict(paths=[str(small_task)], models=["oracle"], out=tmp_path / "run",
                oracle_dir=tmp_path / "oracle", jobs=1)
    first = await run_benchmark(RunOptions(**opts))
    nb = nbformat.read(small_task, as_version=4)
    nb.cells[2].source = "What is the total of column a?"
    nbformat.write(nb, small_task)
    second = await run_benchmark(RunOptions(**opts))
    record = read_session(tmp_path / "run" / "oracle" / "suite" / "small.ipynb")
    assert record.task.sha256 == load_task(small_task).sha256
    assert record.steps[1].instruction == "What is the total of column a?"
    assert first.summary["results"][0]["metrics"] == second.summary["results"][0]["metrics"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cibench", "-q", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=180)


def test_bad_folders_give_one_line_errors(small_task: Path, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("hi")
    for args, flag in ((["--out", "afile"], "--out"), (["--oracle-dir", "afile"], "--oracle-dir")):
        done = _cli("run", str(small_task), "--model", "oracle", *args, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert flag in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "suite"]
    done = _cli("validate", str(small_task), "--oracle-dir", "afile", cwd=tmp_path)
    assert done.returncode == 2 and "--oracle-dir" in done.stderr


def test_task_notebooks_in_a_run_folder_are_skipped(small_task: Path, tmp_path: Path) -> None:
    suite = small_task.parent
    done = _cli("run", str(suite), "--model", "oracle", "--out", str(suite / "run"),
                "--oracle-dir", "oracle", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # the run folder inside the suite is not taken for tasks, the task notebooks not for sessions
    again = _cli("run", str(suite), "--model", "oracle", "--out", str(suite / "run"),
                 "--oracle-dir", "oracle", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    nbformat.write(nbformat.read(small_task, as_version=4), suite / "run" / "stray.ipynb")
    scored = _cli("score", str(suite / "run"), "--oracle-dir", "oracle", cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    assert "skipped" in scored.stderr
    nothing = _cli("score", str(tmp_path / "oracle"), cwd=tmp_path)
    assert nothing.returncode == 2 and "Traceback" not in nothing.stderr


def test_rescoring_refuses_a_notebook_with_missing_steps(small_task: Path,
                                                        tmp_path: Path) -> None:
    done = _cli("run", str(small_task), "--model", "oracle", "--out", "run", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    path = tmp_path / "run" / "oracle" / "suite" / "small.ipynb"
    nb = nbformat.read(path, as_version=4)
    last_turn = max(i for i, c in enumerate(nb.cells)
                    if "cibench-turn" in c.metadata.get("tags", []))
    nb.cells = nb.cells[:last_turn]
    nbformat.write(nb, path)
    scored = _cli("score", "run", cwd=tmp_path)
    assert scored.returncode == 2 and "4 steps, the task 5" in scored.stderr


def test_atomic_writes_follow_the_umask(tmp_path):
    from cibench.fsutil import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        os.umask(0o077)
        atomic_write_text(tmp_path / "b.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644  # readable by others, as any file
    assert (tmp_path / "b.txt").stat().st_mode & 0o777 == 0o600


@pytest.mark.kernel
async def test_ground_truth_keeps_the_data_of_a_large_figure(tmp_path):
    """Six lines of 1,000 points: ground truth once cut their data at 100,000 characters and
    stored no figure record, so the figure-data score fell back to SSIM."""
    plot = ("import numpy as np, matplotlib.pyplot as plt\nx = np.linspace(0, 1, 1000)\n"
            "for k in range(6):\n    plt.plot(x, np.sin(x * (k + 1)) + 0.123456789 * k)\nplt.show()")
    path = write_task(tmp_path / "suite", "big", [{"type": "vis", "instruction": "Plot six waves.",
                                                   "code": plot}])
    truth = await ensure_truth(load_task(path), tmp_path / "oracle")
    (figure,) = truth.steps[0].figure_data
    assert len(json.dumps(figure)) > 100_000
    assert len(figure["axes"][0]["lines"]) == 6


@pytest.mark.kernel
async def test_ground_truth_of_another_version_is_rebuilt_not_misread(tmp_path):
    from cibench.groundtruth import TRUTH_SCHEMA_VERSION, load_truth, truth_path

    task = load_task(write_task(tmp_path / "suite", "one", SMALL_STEPS[:1], data=SMALL_DATA))
    truth = await ensure_truth(task, tmp_path / "oracle")
    path = truth_path(tmp_path / "oracle", task.id)
    data = json.loads(path.read_text())
    data["schema_version"] = TRUTH_SCHEMA_VERSION + 1
    path.write_text(json.dumps(data))
    assert load_truth(tmp_path / "oracle", task.id) is None
    rebuilt = await ensure_truth(task, tmp_path / "oracle")
    assert rebuilt.schema_version == TRUTH_SCHEMA_VERSION and rebuilt.created >= truth.created
    assert [s.execution.outputs for s in rebuilt.steps] == [s.execution.outputs for s in truth.steps]


def test_a_run_folder_of_another_manifest_version_is_refused(tmp_path):
    write_task(tmp_path / "suite", "one", SMALL_STEPS[:1], data=SMALL_DATA)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text(json.dumps({"schema_version": 99, "mode": "e2e"}))
    done = _cli("run", str(tmp_path / "suite"), "--model", "oracle", "--out", "run",
                "--oracle-dir", "oracle", cwd=tmp_path)
    assert done.returncode == 2
    assert "run manifest version 99" in done.stderr and "use another --out" in done.stderr
