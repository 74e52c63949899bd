"""The native suite (notebooks/native/): its shape, and the oracle scoring 100 on a subset.

The whole-suite validation and oracle runs are measurements, not CI: their figures are in
notebooks/native/README.md. Here: every task loads, has 5–12 steps, the suite has all four scored
step types, five Chinese tasks and under 20 MB of data; the notebooks are what
scripts/make_native_tasks.py builds; and the oracle agent scores 100 on every metric of three
representative tasks (num, text, vis, check; English and Chinese; pandas, seaborn, sklearn, nltk)
end to end, ground truth built from scratch (≈ 20 s on the 2-core machine).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest

from cibench.task import load_task

pytestmark = [pytest.mark.slow, pytest.mark.kernel]

REPO = Path(__file__).resolve().parent.parent
SUITE = REPO / "notebooks" / "native"
SUBSET = ["flights-heatmap", "product-reviews-text", "zh-iris-decision-tree"]


def _tasks():
    paths = sorted(SUITE.glob("*.ipynb"))
    return [load_task(p) for p in paths]


def test_native_suite_shape():
    tasks = _tasks()
    assert len(tasks) >= 20, len(tasks)
    for task in tasks:
        assert 5 <= len(task.steps) <= 12, (task.id, len(task.steps))
        assert task.id.startswith("native/")
        meta = nbformat.read(task.path, as_version=4).metadata["cibench"]
        assert meta["schema_version"] == 1 and meta["title"] and meta["modules"], task.id
        for step in task.steps:
            if step.type == "check":
                assert step.checks, (task.id, step.index)
    types = Counter(step.type for task in tasks for step in task.steps)
    assert all(types[t] > 0 for t in ("num", "text", "vis", "check")), types
    assert sum(task.language == "zh" for task in tasks) >= 5
    data = sum(p.stat().st_size for p in (SUITE / "data").rglob("*") if p.is_file())
    assert data < 20 * 1024 * 1024, data


def test_native_notebooks_match_their_generator():
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import make_native_tasks as gen
    finally:
        sys.path.remove(str(REPO / "scripts"))
    built = {t.name: gen.build(t) for t in gen.all_tasks()}
    assert set(built) == {p.stem for p in SUITE.glob("*.ipynb")}
    for name, nb in built.items():
        on_disk = nbformat.read(SUITE / f"{name}.ipynb", as_version=4)
        assert on_disk == nb, f"{name}.ipynb differs from scripts/native_tasks (run make_native_tasks.py)"


def test_oracle_scores_100_on_a_native_subset(tmp_path: Path):
    paths = [str(SUITE / f"{name}.ipynb") for name in SUBSET]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "cibench", "-q", "run", *paths, "--model", "oracle",
         "--mode", "e2e", "--out", str(tmp_path / "run"), "--oracle-dir", str(tmp_path / "oracle")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    (row,) = summary["results"]
    assert row["tasks"] == 3 and not summary.get("invalid_tasks")
    for metric, value in row["metrics"].items():
        assert value == 100.0, (metric, value, row["metrics"])
