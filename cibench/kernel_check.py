"""Check the evaluation kernel's environment (`cibench kernel check`: every pinned module
imports) and fingerprint it (the versions ground truth is made with)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import KernelEnvError
from .kernel_env import ASSETS, MARKER, kernel_python, read_marker
from .kernel_profiles import pinned, requirements_file
from .resources import kernels_dir

log = logging.getLogger(__name__)

# import names of the distributions whose module name differs from the distribution name
IMPORT_NAMES = {"scikit-learn": "sklearn", "scikit-image": "skimage", "pillow": "PIL",
                "opencv-python-headless": "cv2", "opencv-python": "cv2",
                "tensorflow-cpu": "tensorflow", "tensorflow": "tensorflow"}

PROBE_CODE = r"""
import importlib.metadata as md, json, platform, sys
out = {"python": platform.python_version(), "executable": sys.executable, "versions": {}}
for name in json.loads(sys.argv[1]):
    try:
        out["versions"][name] = md.version(name)
    except md.PackageNotFoundError:
        out["versions"][name] = None
print(json.dumps(out))
"""


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def probe(python: str, names: list[str]) -> dict[str, Any]:
    """Python version and installed versions (None = missing) of `names` in `python`."""
    try:
        done = subprocess.run([python, "-c", PROBE_CODE, json.dumps(names)],
                              capture_output=True, text=True, timeout=120, check=False, cwd="/",
                              env=_clean_env())
    except (OSError, subprocess.SubprocessError) as exc:
        raise KernelEnvError(f"cannot run the kernel's Python: {exc}", path=python) from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise KernelEnvError(f"the kernel's Python fails: {last[:200]}", path=python)
    return json.loads(done.stdout.strip().splitlines()[-1])


IMPORT_ALL_CODE = r"""
import importlib, json, sys
for name, module in json.loads(sys.argv[1]):
    try:
        importlib.import_module(module)
        print(json.dumps([name, None]), flush=True)
    except BaseException as exc:
        print(json.dumps([name, f"{type(exc).__name__}: {exc}".splitlines()[0][:200]]),
              flush=True)
"""


def import_errors(python: str, names: list[str]) -> tuple[dict[str, str | None], str]:
    """({name: why its module does not import, or None}, a note on a crash): all in one
    process, then the modules a crash (a segfault between two libraries) left untried each in
    a process of its own."""
    pairs = [[n, IMPORT_NAMES.get(n, n.replace("-", "_"))] for n in names]
    env = {**_clean_env(), "TF_CPP_MIN_LOG_LEVEL": "2"}
    try:
        done = subprocess.run([python, "-c", IMPORT_ALL_CODE, json.dumps(pairs)],
                              capture_output=True, text=True, timeout=600, check=False,
                              cwd="/", env=env)
        out = done.stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("importing all modules at once failed: %s", exc)
        out = ""
    errors: dict[str, str | None] = {}
    for line in out.splitlines():
        try:
            name, error = json.loads(line)
            errors[name] = error
        except (ValueError, TypeError):
            continue
    rest = [n for n in names if n not in errors]
    note = ""
    if rest:
        before = [n for n in names if n in errors]
        note = (f"importing {rest[0]} after {', '.join(before) or 'nothing'} in one process "
                f"crashes it (exit {done.returncode if out else '?'}); alone it "
                f"{'imports' if import_error(python, rest[0]) is None else 'fails too'}")
        with ThreadPoolExecutor(max_workers=2) as pool:
            errors.update(zip(rest, pool.map(lambda n: import_error(python, n), rest), strict=False))
    return errors, note


def import_error(python: str, name: str) -> str | None:
    """Why the module of distribution `name` does not import in `python` (own process: one
    broken or crashing module must not hide the others), or None."""
    module = IMPORT_NAMES.get(name, name.replace("-", "_"))
    env = {**_clean_env(), "TF_CPP_MIN_LOG_LEVEL": "2"}
    try:
        done = subprocess.run([python, "-c", f"import {module}"], capture_output=True, text=True,
                              timeout=300, check=False, cwd="/", env=env)
    except subprocess.TimeoutExpired:
        return f"import {module} takes more than 300 s"
    except OSError as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    if done.returncode < 0:
        return f"import {module} kills the process (signal {-done.returncode})"
    last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
    return last[:200]


def _pins_for(python: str) -> tuple[str, dict[str, str]]:
    """(profile, pins) that apply to the kernel `python`: its env's record, else the default
    profile's file."""
    env = Path(python).parent.parent
    marker = read_marker(env)
    if marker and isinstance(marker.get("pins"), dict):
        return str(marker.get("profile", "?")), dict(marker["pins"])
    path = kernels_dir() / "requirements-default.txt"
    return "default", pinned(path) if path.is_file() else {}


@dataclass
class CheckReport:
    python: str
    version: str
    profile: str
    lines: list[str]
    missing: list[str]

    @property
    def ok(self) -> bool:
        return not self.missing


def check(python: str | None = None, profile: str | None = None) -> CheckReport:
    """Import every pinned module in the kernel's Python; one line per module."""
    python = python or kernel_python()
    env_profile, pins = _pins_for(python)
    if profile is not None:
        env_profile, pins = profile, pinned(requirements_file(profile))
    found = probe(python, sorted(pins))
    present = [name for name in sorted(pins) if found["versions"].get(name)]
    errors, crash = import_errors(python, present)
    lines, missing = [], []
    for name in sorted(pins):
        have, want = found["versions"].get(name), pins[name]
        if have is None:
            missing.append(name)
            lines.append(f"MISSING  {name} (pinned {want or 'any'})")
        elif errors.get(name):
            missing.append(name)
            lines.append(f"BROKEN   {name} {have}: {errors[name]}")
        elif want and have != want:
            lines.append(f"ok       {name} {have} (pinned {want})")
        else:
            lines.append(f"ok       {name} {have}")
    own = Path(python).parent.parent / ASSETS
    assets = own if own.is_dir() else kernels_dir() / "assets"
    for what, rel in (("seaborn datasets", "seaborn-data"),
                      ("nltk data", "nltk_data/corpora/stopwords.zip")):
        there = (assets / rel).exists()
        lines.append(f"{'ok' if there else 'MISSING':8} {what}: {assets / rel}")
        if not there:
            missing.append(what)
    if crash:
        lines.append(f"WARNING  {crash}")
    return CheckReport(python=python, version=found["python"], profile=env_profile,
                       lines=lines, missing=missing)


@lru_cache(maxsize=8)
def _fingerprint(python: str, mtime: float) -> tuple[tuple[str, str], ...]:
    _profile, pins = _pins_for(python)
    found = probe(python, sorted(pins))
    items = [("python", found["python"])]
    items += [(name, found["versions"].get(name) or "absent") for name in sorted(pins)]
    return tuple(items)


def kernel_fingerprint() -> dict[str, str]:
    """Python version and the version of every pinned module, as seen by the kernel's Python."""
    python = kernel_python()
    marker = Path(python).parent.parent / MARKER
    try:
        mtime = marker.stat().st_mtime
    except OSError:
        mtime = 0.0
    return dict(_fingerprint(python, mtime))
