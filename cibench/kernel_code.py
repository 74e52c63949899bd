"""The Python cibench runs inside every kernel, kept as real files in `kernel_side/` and read here
as text (never imported by the harness): the startup code (offline assets, matplotlib setup, the
figure recorder), the output guard and the per-step reseeding."""

from __future__ import annotations

import logging
from pathlib import Path

from .kernel_env import assets_prelude
from .resources import kernels_dir

log = logging.getLogger(__name__)

KERNEL_NAME = "cibench-python"
KERNEL_SIDE = Path(__file__).resolve().parent / "kernel_side"

# Installed in every kernel after the startup code. Caps what a cell can publish *inside the
# kernel*, so a flood (50 MB printed, 100k display() calls, 2000 figures) costs the kernel and
# the iopub channel no more than the caps: past them, stream writes are dropped with a counter,
# and figures/displays are dropped before they are rendered. Only cells run with
# store_history=True (the model's code, checks, references) are capped; cibench's own helper
# cells are not. What was dropped is reported after the cell as one display_data of mimetype
# DROPPED_MIME, which the host folds into its own truncation marker.
GUARD_CODE = (KERNEL_SIDE / "guard.py").read_text(encoding="utf-8")


RESEED_CODE = (KERNEL_SIDE / "reseed.py").read_text(encoding="utf-8")
SEEDING = "per-step-v1"  # part of the ground-truth fingerprint: changing it makes truth stale


def startup_code() -> str:
    """The code every session kernel runs first: kernels/cibench-python/startup.py + figure hook."""
    parts = [assets_prelude() + (kernels_dir() / KERNEL_NAME / "startup.py").read_text()]
    try:
        from .scoring.figure_data import KERNEL_HOOK_CODE
        parts.append(KERNEL_HOOK_CODE)
    except ImportError:  # pragma: no cover - the scoring package always ships it
        log.warning("figure-data hook unavailable")
    return "\n\n".join(parts)

