"""Plugins through entry points (cibench/registry.py): an installed package adds a model backend
and a scoring profile without editing cibench; a broken plugin is skipped with a warning; cibench's
own built-ins are entry points of the cibench distribution, read from setup.cfg in a source
checkout without metadata, and a clear error without either."""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from cibench import registry
from cibench.agents.oracle import OracleAgent
from cibench.errors import RegistryError

from conftest import REPO, SMALL_DATA, SMALL_STEPS, write_task

PLUGIN = '''
from cibench.agents.oracle import OracleAgent
from cibench.scoring.scorer import DEFAULT_PROFILE
import dataclasses

def make_agent(name, options):
    return OracleAgent(name, options)

class TaggedOracle(OracleAgent):
    """What a `cibench` distribution whose metadata names it as `oracle` gives."""

LENIENT = dataclasses.replace(DEFAULT_PROFILE, name="lenient")
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


def _declared(group: str) -> dict[str, str]:
    """What cibench's setup.cfg declares for `group`: {name: module:attr}."""
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(REPO / "setup.cfg")
    lines = [ln.split("=", 1) for ln in cfg.get("options.entry_points", group).splitlines() if "=" in ln]
    return {name.strip(): value.strip() for name, value in lines}


@pytest.mark.parametrize("group", sorted(registry.GROUPS.values()))
def test_built_ins_are_the_entry_points_of_the_cibench_distribution(group: str):
    declared = _declared(group)
    assert declared, f"setup.cfg declares no {group}"
    installed = {e.name: e.value for e in metadata.entry_points(group=group)
                 if e.dist is not None and e.dist.name == "cibench"}
    # the installed metadata (`pip install -e .`) is what the registry reads: it must be current
    assert installed == declared, "stale metadata: run `pip install -e . --no-deps`"
    assert registry.builtin_entry_points(group).keys() == declared.keys()


def test_a_built_in_is_found_through_its_entry_point(tmp_path: Path):
    """A `cibench` distribution whose metadata names another class as `oracle`: that class is
    what `--model oracle` makes (nothing is registered in code)."""
    site = tmp_path / "site"
    _install_plugin(site)
    info = site / "cibench-0.0.dist-info"  # first on sys.path: the cibench distribution found
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cibench\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text("[cibench.agents]\noracle = cibench_demo_plugin:TaggedOracle\n")
    code = ("from cibench.agents import make_agent, known_agents; "
            "print(type(make_agent('oracle')).__name__, known_agents())")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    # only what this cibench distribution declares is built in; demo-plugin is a plugin
    assert done.stdout.split(" ", 1) == ["TaggedOracle", "['demo-plugin', 'oracle']\n"]


def test_a_source_checkout_without_metadata_reads_setup_cfg(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(registry.metadata, "entry_points", lambda group: [])
    found = registry.builtin_entry_points("cibench.agents")
    assert found.keys() == _declared("cibench.agents").keys()
    assert found["oracle"].load() is OracleAgent


def test_no_metadata_and_no_source_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setattr(registry.metadata, "entry_points", lambda group: [])
    monkeypatch.setattr(registry, "SOURCE_SETUP_CFG", tmp_path / "setup.cfg")
    with pytest.raises(RegistryError) as info:
        registry.Registry("model").get("oracle")
    assert "cibench's built-in cibench.agents are not registered" in str(info.value)
    assert "\n" not in str(info.value)
