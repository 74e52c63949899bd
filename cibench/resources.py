"""Where cibench's own files are: the kernelspec and startup code (`kernels/`) and the batch
template (`reports/templates/`).

In a source checkout (and an editable install) they are the repository's top-level folders; a
built wheel carries copies inside the package at `cibench/_resources/` (setup.py copies them at
build time). `CIBENCH_KERNELS_DIR` points the kernel folder elsewhere.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .errors import CibenchError

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
INSTALLED = PACKAGE_DIR / "_resources"
SOURCE_TREE = PACKAGE_DIR.parent


def resource_dir(relative: str) -> Path:
    """The folder `relative` (e.g. "kernels", "reports/templates"): inside the installed package
    if it was built as a wheel, else in the source tree."""
    for root in (INSTALLED, SOURCE_TREE):
        candidate = root / relative
        if candidate.is_dir():
            return candidate
    raise CibenchError(f"cibench's {relative}/ folder is missing from {INSTALLED} and {SOURCE_TREE}",
                       hint="reinstall cibench (pip install cibench, or pip install -e . in a clone)")


def kernels_dir() -> Path:
    """The `kernels/` folder: $CIBENCH_KERNELS_DIR, else the one cibench ships."""
    env = os.environ.get("CIBENCH_KERNELS_DIR")
    if env:
        return Path(env)
    return resource_dir("kernels")


def templates_dir() -> Path:
    """The folder of the papermill batch/report templates."""
    return resource_dir("reports/templates")
