"""`cibench batch`: the papermill template runs the grid through the Python API and shows the
results (leaderboard and figures) inside the executed notebook; a failing run says so there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import SMALL_DATA, SMALL_STEPS, write_task

pytestmark = [pytest.mark.kernel, pytest.mark.slow]
pytest.importorskip("papermill")


def _batch(tmp_path: Path, *paths: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cibench", "-q", "batch", *paths, "--model", "oracle",
         "--mode", "e2e", "--mode", "oracle", "--out-root", str(tmp_path / "grid"),
         "--oracle-dir", str(tmp_path / "oracle"), "--report", str(tmp_path / "report"),
         "--executed", str(tmp_path / "batch.ipynb"), "--extra", "--kernel-user off"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)


def _outputs(path: Path) -> list[dict]:
    nb = nbformat.read(path, as_version=4)
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def test_batch_notebook_shows_the_grid_and_its_report(tmp_path: Path):
    suite = tmp_path / "suite"
    write_task(suite, "small", SMALL_STEPS, data=SMALL_DATA)
    done = _batch(tmp_path, str(suite))
    assert done.returncode == 0, done.stderr[-2000:]
    outputs = _outputs(tmp_path / "batch.ipynb")
    printed = "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")
    assert "oracle · e2e: 1 tasks, 5 steps" in printed and "oracle · oracle: 1 tasks" in printed
    shown = [o["data"] for o in outputs if o["output_type"] == "display_data"]
    board = next(d["text/markdown"] for d in shown if "## Leaderboard" in d.get("text/markdown", ""))
    assert "| oracle | default | 100.0 |" in board
    assert sum(1 for d in shown if "image/png" in d) >= 4  # the report's figures, inline
    assert (tmp_path / "report" / "index.html").is_file()
    assert (tmp_path / "grid" / "e2e" / "summary.json").is_file()


def test_a_failing_run_ends_the_batch_with_a_clear_message(tmp_path: Path):
    done = _batch(tmp_path, str(tmp_path / "no-such-suite"))
    assert done.returncode == 2
    line = done.stderr.strip().splitlines()[-1]
    assert "batch stopped" in line and "no-such-suite" in line and "no such file or folder" in line
    shown = [o["data"].get("text/markdown", "") for o in _outputs(tmp_path / "batch.ipynb")
             if o["output_type"] == "display_data"]
    assert any(text.startswith("**The e2e run failed:**") for text in shown)
