"""`cibench validate --report`: every task lands in one column of the split × module table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import write_task

pytestmark = pytest.mark.kernel


def test_validation_table_sorts_every_task_into_one_column(tmp_path: Path):
    suite = tmp_path / "mysplit"
    num = lambda code: [{"type": "num", "instruction": "Compute it.", "code": code}]  # noqa: E731
    write_task(suite, "fine", num("print(6 * 7)"))
    write_task(suite, "keyerror", num("d = {}\nprint(d['x'])"))
    write_task(suite, "nomodule", num("import no_such_module_cibench\nprint(1)"))
    write_task(suite, "clock", num("import time\nprint(time.time_ns())"))
    write_task(suite, "noisy", [{"type": "vis", "instruction": "Plot noise.", "code":  # OS entropy
                                 "import numpy as np, matplotlib.pyplot as plt\n"
                                 "plt.plot(np.random.default_rng(None).random(50))\nplt.show()"}])
    waiting = write_task(suite, "waiting", num("import pandas as pd\n"
                                                 "print(len(pd.read_csv('data/late.csv')))"))
    nb = nbformat.read(waiting, as_version=4)
    nb.metadata["cibench"]["needs_assets"] = ["data/late.csv"]
    nbformat.write(nb, waiting)
    report = tmp_path / "validation.md"
    done = subprocess.run([sys.executable, "-m", "cibench", "-q", "validate", str(suite),
                           "--oracle-dir", str(tmp_path / "oracle"), "--report", str(report)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr  # two tasks fail validation
    assert "SKIPPED mysplit/waiting: needs assets: data/late.csv" in done.stdout
    text = report.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| mysplit | pandas |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # split, module, tasks, steps, validated, needs assets, needs network, missing module,
    # reference error, non-deterministic
    assert cells == ["mysplit", "pandas", "6", "6", "1", "1", "0", "1", "1", "2"]
    assert "mysplit/noisy | non-deterministic | step 1: its figure differs" in text
    assert "| mysplit/keyerror | reference error | KeyError |" in text
    assert "| mysplit/nomodule | missing module | no_such_module_cibench |" in text
    assert "mysplit/clock | non-deterministic | step 1:" in text
