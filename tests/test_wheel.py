"""The built wheel is a complete cibench: installed outside the source tree, it finds its
kernelspec, startup code and batch template, and runs the oracle over a bundled task."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                            "-w", str(out), str(REPO)], capture_output=True, text=True, timeout=300,
                           cwd=out)
    assert build.returncode == 0, build.stderr[-2000:]
    (found,) = out.glob("cibench-*.whl")
    return found


def test_wheel_carries_kernels_and_templates(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in ("kernels/cibench-python/kernel.json", "kernels/cibench-python/startup.py",
                "kernels/requirements-default.txt", "kernels/assets/nltk_data/corpora/stopwords.zip",
                "reports/templates/batch.ipynb"):
        assert f"cibench/_resources/{rel}" in names, rel
    assert not any("__pycache__" in n for n in names)
    # cibench's own built-ins are entry points of the wheel (cibench/registry.py)
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    for line in ("[cibench.agents]", "oracle = cibench.agents.oracle:OracleAgent",
                 "[cibench.scoring_profiles]", "default = cibench.scoring.scorer:DEFAULT_PROFILE"):
        assert line in text, line


def test_installed_wheel_runs_the_oracle_outside_the_source_tree(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    # the wheel alone, with cibench's dependencies borrowed from this interpreter's site-packages
    target = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                            capture_output=True, text=True, check=True).stdout.strip()
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    Path(target, "borrowed-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")

    work = tmp_path / "work"
    work.mkdir()
    shutil.copytree(REPO / "notebooks" / "demo", work / "suite",
                    ignore=lambda d, names: [n for n in names if n.endswith(".ipynb")
                                             and n != "sales-analysis.ipynb"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "CIBENCH"))}
    where = subprocess.run([python, "-c", "import cibench.resources as r; print(r.kernels_dir())"],
                           capture_output=True, text=True, cwd=work, env=env, timeout=60)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(target), where.stdout  # not the source tree
    run = subprocess.run([python, "-m", "cibench", "-q", "run", "suite", "--model", "oracle",
                          "--kernel-user", "off", "--out", "run", "--oracle-dir", "oracle"],
                         capture_output=True, text=True, cwd=work, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads((work / "run" / "summary.json").read_text())
    (result,) = summary["results"]
    assert result["tasks"] == 1 and result["metrics"]["exec_rate"] == 100.0
    assert (work / "run" / "oracle" / "suite" / "sales-analysis.ipynb").is_file()
