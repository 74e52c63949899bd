"""Code cibench itself runs in a kernel, the same way for ground truth and for sessions.

Ground truth and sessions once collected plotted figure data under different output caps (the
default 100,000 characters against 20 million), so a figure with a few thousand points had data
in the session but none in the ground truth, and its figure-data score silently fell back to
SSIM. Both now collect through `collect_figures`.
"""

from __future__ import annotations

import logging
from typing import Any

from .kernel import KernelSession, OutputCaps
from .scoring.figure_data import COLLECT_CODE, parse_collected

log = logging.getLogger(__name__)

#: caps for cibench's own helper cells (their output is data, not an answer shown to anyone)
HELPER_CAPS = OutputCaps(text_chars=20_000_000, images=0, outputs=10)
HELPER_TIMEOUT = 30.0


async def collect_figures(kernel: KernelSession) -> list[dict[str, Any]]:
    """The data plotted in the figures the last cell produced (see scoring/figure_data.py)."""
    out = await kernel.execute(COLLECT_CODE, timeout=HELPER_TIMEOUT, store_history=False,
                               caps=HELPER_CAPS)
    if out.truncated:
        log.warning("figure data cut at %d characters: the figure-data score falls back to SSIM",
                    HELPER_CAPS.text_chars)
    return parse_collected(out.stdout())
