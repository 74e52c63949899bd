"""The session replayer in both modes, with the oracle agent and a scripted agent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cibench.groundtruth import ensure_truth
from cibench.records import RunConfig
from cibench.runner import RunOptions, run_benchmark
from cibench.session import GIVE_UP_REPLY, run_session
from cibench.task import load_task

from scripted import ScriptedAgent

pytestmark = pytest.mark.kernel

METRICS = ("tool_rate", "exec_rate", "num_acc", "text_score", "vis_score", "check_rate")


@pytest.mark.parametrize("mode", ["e2e", "oracle"])
async def test_oracle_agent_scores_100(small_task: Path, tmp_path: Path, mode: str) -> None:
    out = tmp_path / "run"
    result = await run_benchmark(RunOptions(paths=[str(small_task)], models=["oracle"], mode=mode,
                                            out=out, oracle_dir=tmp_path / "oracle", jobs=1))
    row = result.summary["results"][0]
    assert row["tasks"] == 1 and row["steps"] == 5 and result.errors == 0
    assert all(row["metrics"][m] == 100.0 for m in METRICS), row["metrics"]
    assert (out / "oracle" / "suite" / "small.ipynb").is_file()
    assert json.loads((out / "summary.json").read_text()) == result.summary


async def _session(task_path: Path, tmp_path: Path, agent: ScriptedAgent, mode: str):
    task = load_task(task_path)
    truth = await ensure_truth(task, tmp_path / "oracle")
    config = RunConfig(run_id="t", model="scripted", mode=mode, protocol="scripted", attempts=3)
    return await run_session(task, agent, truth, config)


async def test_e2e_failures_propagate_and_attempts_are_recorded(small_task: Path,
                                                                tmp_path: Path) -> None:
    agent = ScriptedAgent({
        1: ["df = pd.read_csv('data/t.csv')",  # NameError: pd not imported
            "import pandas as pd\ndf = pd.read_csv('data/t.csv')"],
        2: [None],  # no code: no tool call
        3: ["del df\nprint('a,b')"],  # right output, but breaks later steps
    })
    record = await _session(small_task, tmp_path, agent, "e2e")
    s1, s2, s3, s4, s5 = record.steps
    assert len(s1.attempts) == 2 and s1.attempts[0].execution.error_name == "NameError"
    assert s1.score.exec == 1 and s1.score.passed
    assert s2.score.tool == 0 and s2.score.num == 0 and s2.score.failure == "no code"
    assert s3.score.text == 1.0
    # df is gone: the reference code of step 4 fails three times, then the agent gives up
    assert len(s4.attempts) == 3 and s4.gave_up and s4.score.exec == 0
    assert s4.score.failure == "runtime error: NameError"
    assert s5.score.check == 0
    assert record.scores["tool_rate"] == 80.0 and record.scores["exec_rate"] == 40.0
    # after giving up, the history holds the instruction and an apology only
    last = agent.histories[-1]
    step4 = [t for t in last if t.step == 4]
    assert [t.role for t in step4] == ["user", "assistant"] and step4[1].text == GIVE_UP_REPLY


async def test_oracle_mode_resets_state_from_references(small_task: Path, tmp_path: Path) -> None:
    agent = ScriptedAgent({3: ["del df\nprint('a,b')"]})
    record = await _session(small_task, tmp_path, agent, "oracle")
    assert all(s.score.passed for s in record.steps), [s.score for s in record.steps]
    assert record.steps[2].reference_run is not None and record.steps[2].reference_run.ok
    # before step 4 the history holds references of steps 1-3, not the model's code
    history = agent.histories[3]
    codes = [t.code for t in history if t.role == "assistant"]
    assert "del df" not in "".join(codes)
    assert codes[0].startswith("import pandas")
    assert [t.role for t in history][-1] == "user"


async def test_a_broken_task_is_skipped_and_reported(small_task: Path, tmp_path: Path) -> None:
    from conftest import write_task

    write_task(small_task.parent, "broken", [
        {"type": "num", "instruction": "Divide.", "code": "1 / 0"}])
    out = tmp_path / "run"
    result = await run_benchmark(RunOptions(paths=[str(small_task.parent)], models=["oracle"],
                                            out=out, oracle_dir=tmp_path / "oracle", jobs=2))
    assert result.invalid == 1 and result.errors == 0
    assert result.summary["results"][0]["tasks"] == 1
    [bad] = result.summary["invalid_tasks"]
    assert bad["task"] == "suite/broken" and "ZeroDivisionError" in bad["error"]
    assert "cell 0, step 1" in bad["error"]  # the step's instruction cell
    assert (out / "oracle" / "suite" / "small.ipynb").is_file()
    assert not (out / "oracle" / "suite" / "broken.ipynb").exists()


def test_validate_reports_each_broken_task(small_task: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    from conftest import write_task
    write_task(small_task.parent, "broken", [
        {"type": "vis", "instruction": "Plot nothing.", "code": "x = 1"}])
    done = subprocess.run([sys.executable, "-m", "cibench", "-q", "validate",
                           str(small_task.parent), "--oracle-dir", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "ok suite/small" in done.stdout
    assert "FAILED suite/broken" in done.stdout and "shows no figure" in done.stdout
    assert "1 of 2 tasks failed validation" in done.stderr
    assert "Traceback" not in done.stderr


async def test_random_data_is_reproducible_in_both_modes(tmp_path: Path) -> None:
    """Oracle mode runs each step's code twice (the model's, then the reference); random data
    must still match ground truth, so the kernel is reseeded with the step number."""
    from conftest import write_task
    steps = [{"type": "num", "instruction": f"Draw number {i}.",
              "code": "import numpy as np\nint(np.random.randint(0, 10**9))"} for i in (1, 2, 3)]
    task = write_task(tmp_path / "suite", "rng", steps)
    for mode in ("e2e", "oracle"):
        result = await run_benchmark(RunOptions(paths=[str(task)], models=["oracle"], mode=mode,
                                                out=tmp_path / mode, oracle_dir=tmp_path / "o",
                                                jobs=1))
        assert result.summary["results"][0]["metrics"]["num_acc"] == 100.0, mode
