"""Plugins through entry points (cibench/registry.py): an installed package adds a model backend
and a scoring profile without editing cibench; a broken plugin is skipped with a warning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SMALL_DATA, SMALL_STEPS, write_task

PLUGIN = '''
from cibench.agents.oracle import OracleAgent
from cibench.scoring.scorer import PROFILES
import dataclasses

def make_agent(name, options):
    return OracleAgent(name, options)

LENIENT = dataclasses.replace(PROFILES["default"], name="lenient")
'''
ENTRY_POINTS = """[cibench.agents]
demo-plugin = cibench_demo_plugin:make_agent
broken = cibench_no_such_module:make

[cibench.scoring_profiles]
lenient = cibench_demo_plugin:LENIENT
"""


def _install_plugin(site: Path) -> None:
    """A real distribution on sys.path: a module and a .dist-info with entry_points.txt."""
    site.mkdir()
    (site / "cibench_demo_plugin.py").write_text(PLUGIN)
    info = site / "cibench_demo_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cibench-demo-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)


def _cli(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "cibench", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


@pytest.mark.kernel
def test_an_installed_plugin_adds_a_model_and_a_scoring_profile(tmp_path: Path):
    _install_plugin(tmp_path / "site")
    write_task(tmp_path / "suite", "small", SMALL_STEPS[:2], data=SMALL_DATA)
    done = _cli(tmp_path / "site", "run", "suite", "--model", "demo-plugin", "--scoring", "lenient",
                "--out", "run", "--oracle-dir", "oracle", "--no-report", "--kernel-user", "off",
                cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    (row,) = json.loads((tmp_path / "run" / "summary.json").read_text())["results"]
    assert row["model"] == "demo-plugin" and row["scoring"] == "lenient"
    assert row["metrics"]["num_acc"] == 100.0
    # the broken plugin is named in a warning, and never hides the built-ins
    assert "model plugin 'broken'" in done.stderr and "does not load" in done.stderr


def test_unknown_names_list_the_plugins_too(tmp_path: Path):
    _install_plugin(tmp_path / "site")
    write_task(tmp_path / "suite", "small", SMALL_STEPS[:1], data=SMALL_DATA)
    done = _cli(tmp_path / "site", "-q", "run", "suite", "--model", "oracle", "--scoring", "strictest",
                "--out", "run", "--oracle-dir", "oracle", cwd=tmp_path)
    assert done.returncode == 2
    assert "unknown scoring profile 'strictest'; known: cibench, default, lenient" in done.stderr
