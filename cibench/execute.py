"""Code cibench itself runs in a kernel, the same way for ground truth and for sessions.

Ground truth and sessions once collected plotted figure data under different output caps (the
default 100,000 characters against 20 million), so a figure with a few thousand points had data
in the session but none in the ground truth, and its figure-data score silently fell back to
SSIM. Both now collect through `collect_figures`. Hidden check cells run through `run_check`
for both as well.
"""

from __future__ import annotations

import ast
import builtins
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .detached import run_detached
from .kernel import KernelSession, OutputCaps
from .records import Execution
from .scoring.figure_data import COLLECT_CODE, MARKER, parse_collected

log = logging.getLogger(__name__)

#: caps for cibench's own helper cells (their output is data, not an answer shown to anyone)
HELPER_CAPS = OutputCaps(text_chars=20_000_000, images=0, outputs=10)
HELPER_TIMEOUT = 30.0


#: evaluated by the kernel right after a cell (KernelSession.execute `expressions`): the same
#: summaries COLLECT_CODE prints, as one string, without a cell (and a round trip) of its own
FIGURES = {"figures": "(lambda m: m.collect() if m is not None else '[]')"
                      "(__import__('sys').modules.get('_cibench_figdata'))"}
CUT_WARNING = "figure data cut at %d characters: the figure-data score falls back to SSIM"


async def collect_figures(kernel: KernelSession) -> list[dict[str, Any]]:
    """The data plotted in the figures the last cell produced (see scoring/figure_data.py)."""
    out = await kernel.execute(COLLECT_CODE, timeout=HELPER_TIMEOUT, store_history=False,
                               caps=HELPER_CAPS)
    if out.truncated:
        log.warning(CUT_WARNING, HELPER_CAPS.text_chars)
    return parse_collected(out.stdout())


async def figures_after(kernel: KernelSession) -> list[dict[str, Any]]:
    """The figure data of the cell `kernel` just ran with `expressions=FIGURES`: read from its
    reply when the cell ran to the end, else (an error, a restart, no reply) by a collect
    cell, as `collect_figures`. Same data either way; the reply saves a round trip per step."""
    found = kernel.last_expressions.get("figures")
    text = found.get("data", {}).get("text/plain") if isinstance(found, dict) \
        and found.get("status") == "ok" and isinstance(found.get("data"), dict) else None
    if isinstance(text, str) and text[:1] in ("'", '"'):  # the repr of one string, nothing else
        if len(text) > HELPER_CAPS.text_chars:
            log.warning(CUT_WARNING, HELPER_CAPS.text_chars)
            return []
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            value = None
        if isinstance(value, str):
            return parse_collected(MARKER + value)
    return await collect_figures(kernel)


#: builtins through which code reads the namespace it runs in
NAMESPACE_READERS = {"globals", "locals", "vars", "dir", "eval", "exec", "get_ipython",
                     "__builtins__", "__import__"}


def reads_kernel_state(code: str) -> bool:
    """Whether a check cell needs the session's kernel: it reads a name it does not bind itself
    (a variable the model's step should have defined), or it is not plain Python (magics).
    A check that binds everything it reads (`import pandas as _pd; assert ... _pd.read_csv(...)`)
    needs only the files, and runs in a fresh process the model's code never touched."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return True
    bound: set[str] = set()
    loaded: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            bound.add(node.name)
    if loaded & NAMESPACE_READERS or "__main__" in bound:
        return True  # reads the kernel's namespace indirectly (globals().get('x'), eval, ...)
    return bool(loaded - bound - set(dir(builtins)))


async def run_check(kernel: KernelSession, code: str,
                    in_kernel: Callable[[str], Awaitable[Execution]] | None = None) -> Execution:
    """A hidden check cell: in a fresh process (same uid, limits and folder) when it reads only
    files, so nothing the model did to the kernel can make it pass; else in the kernel, through
    `in_kernel` when given (a session's executor, which rebuilds state after a restart)."""
    if not reads_kernel_state(code):
        return await run_detached(kernel, code)
    if in_kernel is not None:
        return await in_kernel(code)
    return await kernel.execute(code, store_history=False)
