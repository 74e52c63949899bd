"""An oracle-agent end-to-end run of `notebooks/demo` gives the same session notebooks as the
golden copies in tests/golden/demo/, once tests/golden_notebooks.normalize has removed what
legitimately varies (timings, run id, environment fingerprint, schema versions).

The golden copies were made before the issue-8 refactor (module splits, typed run parameters,
built-ins through entry points), so they check that it changed nothing a reader sees."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from cibench.runner import RunOptions, run_benchmark

from conftest import REPO
from golden_notebooks import GOLDEN, check_golden

pytestmark = [pytest.mark.kernel, pytest.mark.slow]
DEMO = REPO / "notebooks" / "demo"
TASKS = sorted(p.stem for p in DEMO.glob("*.ipynb"))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("demo")
    # a copy under /tmp: the notebooks name their task by path, which the normaliser hides
    suite = tmp / "demo"
    shutil.copytree(DEMO, suite, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    out = tmp / "run"
    result = asyncio.run(run_benchmark(RunOptions(
        paths=[str(suite)], models=["oracle"], mode="e2e", out=out, oracle_dir=tmp / "oracle",
        jobs=1, run_id="golden")))
    assert result.errors == 0 and result.invalid == 0 and result.skipped == 0
    return out / "oracle" / "demo"


def test_demo_has_three_tasks() -> None:
    assert TASKS == ["daily-temperatures", "iris-classifier", "sales-analysis"]


@pytest.mark.parametrize("task", TASKS)
def test_demo_session_matches_golden(demo_run: Path, task: str) -> None:
    check_golden(demo_run / f"{task}.ipynb", GOLDEN / "demo" / f"{task}.ipynb.json",
                 versions=True)
