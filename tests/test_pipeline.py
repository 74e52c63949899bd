"""cibench/pipeline.py: one task start to finish, and a re-score taking the same path."""

from __future__ import annotations

from pathlib import Path

import pytest

from cibench.groundtruth import ensure_truth
from cibench.notebook import read_session
from cibench.pipeline import evaluate, rescore_record
from cibench.records import RunConfig
from cibench.session import SessionSettings
from cibench.task import load_task

from conftest import SMALL_DATA, SMALL_STEPS, write_task
from scripted import ScriptedAgent

pytestmark = pytest.mark.kernel


async def test_evaluate_writes_a_scored_notebook_and_rescore_reuses_it(tmp_path: Path):
    task = load_task(write_task(tmp_path / "suite", "small", SMALL_STEPS[:3], data=SMALL_DATA))
    truth = await ensure_truth(task, tmp_path / "oracle")
    # the sum of column a is 6: "16" is wrong as a number, but CIBench finds "6" in "16"
    agent = ScriptedAgent({2: ["print(16)"]})
    config = RunConfig(run_id="r", model="scripted", protocol="scripted")
    path = tmp_path / "run" / "scripted" / f"{task.id}.ipynb"
    record = await evaluate(task, agent, truth, config, SessionSettings(), path, tmp_path / "run")
    assert path.is_file() and record.steps[1].score is not None
    written = read_session(path)
    assert written.scores == record.scores and not written.steps[1].score.passed
    written.run.scoring = "cibench"
    again = await rescore_record(written, truth, path, tmp_path / "run")
    assert again.steps[1].score.passed
    reread = read_session(path)
    assert reread.run.scoring == "cibench" and reread.scores["num_acc"] == 100.0
