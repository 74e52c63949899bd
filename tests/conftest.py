"""Shared fixtures: small task notebooks written on the fly, and the shared datasets folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

os.environ.pop("MPLBACKEND", None)  # the kernel scrubs it anyway; keep test processes alike


def write_task(folder: Path, name: str, steps: list[dict[str, Any]], *,
               setup: list[str] = (), data: dict[str, str] | None = None,
               language: str = "en", title: str | None = None) -> Path:
    """Write a task notebook. Each step: {type, instruction, code, checks=[], module=''}."""
    folder.mkdir(parents=True, exist_ok=True)
    nb = new_notebook()
    nb.metadata["cibench"] = {
        "title": title or name, "module": "pandas", "difficulty": "easy", "language": language,
        "step_types": [s["type"] for s in steps],
        "modules": [s.get("module", "pandas") for s in steps], "schema_version": 1}
    for code in setup:
        nb.cells.append(new_code_cell(code, metadata={"tags": ["setup"]}))
    for s in steps:
        nb.cells.append(new_markdown_cell(s["instruction"]))
        codes = s["code"] if isinstance(s["code"], list) else [s["code"]]
        for code in codes:
            nb.cells.append(new_code_cell(code))
        for check in s.get("checks", []):
            nb.cells.append(new_code_cell(check, metadata={"tags": ["check"]}))
    for rel, text in (data or {}).items():
        p = folder / "data" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


SMALL_STEPS = [
    {"type": "exec", "instruction": "Load `data/t.csv` into `df`.",
     "code": "import pandas as pd\ndf = pd.read_csv('data/t.csv')"},
    {"type": "num", "instruction": "What is the sum of column a?", "code": "int(df['a'].sum())"},
    {"type": "text", "instruction": "Print the column names joined by commas.",
     "code": "print(','.join(df.columns))"},
    {"type": "vis", "instruction": "Plot a against b.",
     "code": "import matplotlib.pyplot as plt\nplt.plot(df['a'], df['b'])\nplt.show()"},
    {"type": "check", "instruction": "Save df to out.csv.", "code": "df.to_csv('out.csv', index=False)",
     "checks": ["import pandas as _p\nassert len(_p.read_csv('out.csv')) == 3"]},
]
SMALL_DATA = {"t.csv": "a,b\n1,4\n2,5\n3,7\n"}


@pytest.fixture
def small_task(tmp_path: Path) -> Path:
    return write_task(tmp_path / "suite", "small", SMALL_STEPS, data=SMALL_DATA)


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: the shared datasets are only beside CI's clone")
    return SHARED


@pytest.fixture
def openai_server():
    """A scripted OpenAI-compatible server on 127.0.0.1 (see tests/openai_server.py)."""
    from openai_server import ScriptedServer

    with ScriptedServer() as server:
        yield server


@pytest.fixture
def fast_retries(monkeypatch):
    """Model-call retries back off in milliseconds instead of seconds."""
    from cibench.agents import llm

    monkeypatch.setattr(llm, "RETRY_BASE_SECONDS", 0.01)
    monkeypatch.setattr(llm, "RETRY_MAX_SECONDS", 0.05)
