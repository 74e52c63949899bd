"""The README's tour, line by line, in a copy of the repository: every command must run.

A scripted OpenAI-compatible server on 127.0.0.1 stands in for the paid models (`gpt-4o` through
OPENAI_API_BASE, and the `--api-base` line's address is pointed at it); the embedded local model
runs for real.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.kernel]


def tour_lines() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = text.split("## A ten-line tour", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line.split("  #", 1)[0].strip() for line in block.splitlines()]
    return [line for line in lines if line]


def copy_repo(dest: Path) -> None:
    """The tracked files of the working tree (a fresh clone, uncommitted edits included)."""
    if (REPO / ".git").exists():
        files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                               check=True).stdout.decode().split("\0")
    else:
        files = [str(p.relative_to(REPO)) for p in REPO.rglob("*") if p.is_file()]
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def test_tour_has_the_commands_it_promises():
    lines = tour_lines()
    assert 8 <= len(lines) <= 12
    assert all(line.startswith(("cibench ", "jupyter ")) for line in lines)


@pytest.mark.timeout(1800)  # the embedded model's line is real generation on a busy CPU
def test_every_tour_command_runs_in_order(openai_server, tmp_path: Path):
    from openai_server import reply

    try:
        from cibench.local_model import check_backend, find_gguf
        check_backend()
        find_gguf()
    except Exception as exc:  # noqa: BLE001 - the tour's local line needs the embedded model
        pytest.skip(f"the embedded local model is not set up: {exc}")
    openai_server.responder = lambda body: reply(
        "Thought: I will look at the data.\nAction: IPythonInterpreter\n"
        "Action Input: ```python\nprint(42)\n```")
    clone = tmp_path / "clone"
    copy_repo(clone)
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
           "OPENAI_API_KEY": "sk-tour", "OPENAI_API_BASE": openai_server.api_base}
    for line in tour_lines():
        line = re.sub(r"http://127\.0\.0\.1:\d+/v1", openai_server.api_base, line)
        done = subprocess.run(shlex.split(line), cwd=clone, env=env, capture_output=True,
                              text=True, timeout=900)
        assert done.returncode == 0, f"{line}\n{done.stdout[-1500:]}\n{done.stderr[-2500:]}"
    calls = openai_server.calls
    assert calls > 0
    assert (clone / "reports" / "out" / "index.html").is_file()
    assert (clone / "sessions" / "gpt-4o" / "gpt-4o" / "demo" / "sales-analysis.html").is_file()
    assert (clone / "sessions" / "local" / "local" / "demo" / "sales-analysis.ipynb").is_file()
