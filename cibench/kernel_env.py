"""The evaluation kernel's own Python environment: where it is and which Python runs kernels.

Tasks run in a kernel whose Python is *not* the harness's: `cibench kernel install --profile P`
builds a virtualenv from the pinned `kernels/requirements-P.txt` (with `uv` when it is there,
else `python -m venv` + pip), in a temporary folder beside the target that is renamed into place
once complete, world-readable so that the per-session uids of the sandbox can run it. The env
records a hash of what it was built from (`cibench-kernel.json`): installing the same pins again
does nothing. The install is then recorded as the kernel cibench uses (a small JSON pointer in
the user's config folder).

Which Python runs the kernel (`kernel_python`): `$CIBENCH_KERNEL_PYTHON`, else the recorded
install, else an env at the default location, else the harness's own interpreter (logged once).

Offline assets (`kernels/assets/`: seaborn example datasets, NLTK stopwords) ship with the
project; an install copies them into the env so a sandbox uid can read them wherever the
project's clone lives, and the kernel's startup code points `SEABORN_DATA` and `NLTK_DATA` at them.

The jobs are split: the profiles and their pins are `kernel_profiles`, building an env is
`kernel_install`, checking one and the environment fingerprint are `kernel_check`; this module
finds the env (and records which one cibench uses).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from .errors import KernelEnvError
from .resources import kernels_dir

log = logging.getLogger(__name__)

MARKER = "cibench-kernel.json"  # inside an installed env: what it was built from
POINTER = "kernel-env.json"  # in the config folder: which env cibench uses
ASSETS = "cibench-assets"  # inside an installed env: the copy of kernels/assets
SCHEMA_VERSION = 1
ENV_PYTHON = "CIBENCH_KERNEL_PYTHON"


def default_root() -> Path:
    """Where envs go: /opt/cibench/kernels as root (readable by the sandbox uids), else
    $XDG_DATA_HOME/cibench/kernels (~/.local/share/cibench/kernels)."""
    if os.geteuid() == 0:
        return Path("/opt/cibench/kernels")
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "cibench" / "kernels"


def config_dir() -> Path:
    env = os.environ.get("CIBENCH_CONFIG_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "cibench"


def env_python(env: Path) -> Path:
    return Path(env) / "bin" / "python"


def read_marker(env: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((Path(env) / MARKER).read_text())
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def recorded_env() -> Path | None:
    """The env recorded by the last `cibench kernel install`, if it is still there."""
    try:
        data = json.loads((config_dir() / POINTER).read_text())
        env = Path(data["path"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return env if env_python(env).exists() and read_marker(env) else None


def installed_env() -> Path | None:
    """The recorded env, else a complete env at the default location (default profile first)."""
    env = recorded_env()
    if env is not None:
        return env
    for profile in ("default", "full"):
        candidate = default_root() / profile
        if env_python(candidate).exists() and read_marker(candidate):
            return candidate
    return None


_fallback_logged: list[str] = []


def kernel_python() -> str:
    """The interpreter that runs evaluation kernels (see the module docstring for the order)."""
    override = os.environ.get(ENV_PYTHON)
    if override:
        if not (os.path.isfile(override) and os.access(override, os.X_OK)):
            raise KernelEnvError(f"${ENV_PYTHON}={override} is not an executable file",
                                 hint="point it at the bin/python of an environment with "
                                      "ipykernel, or unset it")
        return override
    env = installed_env()
    if env is not None:
        return str(env_python(env))
    if not _fallback_logged:
        _fallback_logged.append(sys.executable)
        log.info("no kernel environment installed (`cibench kernel install`); kernels run "
                 "in cibench's own Python %s", sys.executable)
    return sys.executable


def assets_dir() -> Path:
    """The offline assets the kernel uses: the installed env's copy when the kernel runs in an
    installed env (readable by the sandbox uids), else `kernels/assets` of the project."""
    if not os.environ.get(ENV_PYTHON):
        env = installed_env()
        if env is not None and (env / ASSETS).is_dir():
            return env / ASSETS
    return kernels_dir() / "assets"


def assets_prelude() -> str:
    """Kernel code defining where the assets are, read by kernels/cibench-python/startup.py."""
    return f"_CIBENCH_ASSETS = {str(assets_dir())!r}\n"


def register(env: Path, profile: str) -> Path:
    """Record `env` as the kernel environment cibench uses."""
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    pointer = folder / POINTER
    tmp = pointer.with_name(pointer.name + ".tmp")
    tmp.write_text(json.dumps({"schema_version": SCHEMA_VERSION, "profile": profile,
                               "path": str(env), "python": str(env_python(env))}, indent=1))
    tmp.replace(pointer)
    return pointer
