"""Plotted-data capture in the kernel, and a data-level figure similarity.

CIBench scores a figure by SSIM of pixels, which rewards matching styles and
punishes correct plots drawn at another size or colour.  Here the kernel
records *what was plotted* (lines, bars, scatter offsets, pie wedges, images,
meshes, labels) from matplotlib's artists at the moment a figure is rendered
for display, and :func:`figure_data_similarity` compares those summaries.

Kernel side
-----------
:data:`KERNEL_HOOK_CODE` is run once at kernel start.  It creates a private
module ``_cibench_figdata`` in ``sys.modules`` (so ``%reset -f`` cannot wipe
it and no user-visible global is defined) and wraps the shell's
``display_formatter.format`` -- the call every display of a Figure goes
through (``plt.show()`` and the automatic flush of the inline backend,
``display(fig)``, a figure as the cell's result, ``fig.show()``).  The wrapper
lets IPython render first (so tick labels exist), then, if the object was a
matplotlib Figure and an image came out, summarizes the still-open figure: one
record per image output, in output order, whatever the figure formats (png,
retina, svg) and whether pyplot was imported before or after the hook.
matplotlib is never imported by the hook.  It prints nothing and swallows its
own errors.

:data:`COLLECT_CODE` prints one line ``__CIBENCH_FIGDATA__[...json...]`` with
the summaries recorded since the previous collect (and clears them), plus a
summary of any pyplot figure still open that was never displayed
(``"source": "open"``).  Run it with ``store_history=False`` so it does not
shift execution counts; :func:`parse_collected` reads the line back.

Record format (one dict per displayed figure)::

    {"seq": 3, "execution_count": 5, "source": "display" | "open",
     "suptitle": str, "size_inches": [w, h],
     "axes": [{"title", "xlabel", "ylabel", "xscale", "yscale",
               "colorbar": bool, "lines": [{"label", "n", "xy"}],
               "bars": [{"label", "orientation", "rects": [[x, y, w, h]]}],
               "wedges": [[theta1, theta2, r]], "other_patches": [type names],
               "collections": [{"type", "label", "n_paths", "offsets"?,
                                "array_shape"?, "array"?}],
               "images": [{"shape", "sample"}], "texts": [...], "legend": [...],
               "xticklabels": [...], "yticklabels": [...],
               "xformatter": str, "yformatter": str}]}

Arrays are cut to 1000 evenly spaced points per artist (``n`` keeps the true
length), values to 7 significant digits, nan/inf become ``null``.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any, cast

import numpy as np

logger = logging.getLogger(__name__)

__all__ = [
    "KERNEL_HOOK_CODE",
    "COLLECT_CODE",
    "MARKER",
    "parse_collected",
    "figure_data_similarity",
]

MARKER = "__CIBENCH_FIGDATA__"

# Source of the private in-kernel module (a real file, cibench/kernel_side/figures.py).
_HOOK_MODULE_SOURCE = (Path(__file__).resolve().parent.parent / "kernel_side" / "figures.py"
                       ).read_text(encoding="utf-8")

KERNEL_HOOK_CODE: str = (
    "def __cibench_install_figdata(source):\n"
    "    import sys, types\n"
    "    if '_cibench_figdata' in sys.modules:\n"
    "        return\n"
    "    mod = types.ModuleType('_cibench_figdata')\n"
    "    mod.__dict__['get_ipython'] = get_ipython\n"
    "    try:\n"
    "        exec(compile(source, '<cibench-figdata>', 'exec'), mod.__dict__)\n"
    "        sys.modules['_cibench_figdata'] = mod\n"
    "        mod.install()\n"
    "    except Exception:\n"
    "        pass\n"
    f"__cibench_install_figdata({_HOOK_MODULE_SOURCE!r})\n"
    "del __cibench_install_figdata\n"
)
"""Run once at kernel start (defines no user global; prints nothing)."""

COLLECT_CODE: str = (
    "(lambda m: __import__('builtins').print("
    f"{MARKER!r} + (m.collect() if m is not None else '[]'), flush=True))"
    "(__import__('sys').modules.get('_cibench_figdata'))\n"
)
"""Prints ``__CIBENCH_FIGDATA__<json list>`` and clears the recorded list."""


def parse_collected(stdout: str) -> list[dict[str, Any]]:
    """Figure summaries from the stdout of :data:`COLLECT_CODE`.

    Every line starting with the marker contributes its list (in order);
    malformed lines are logged and skipped; no marker gives ``[]``.
    """
    records: list[dict[str, Any]] = []
    for line in stdout.splitlines():
        pos = line.find(MARKER)
        if pos < 0:
            continue
        try:
            data = json.loads(line[pos + len(MARKER) :])
        except json.JSONDecodeError as exc:
            logger.warning("figure data line is not JSON: %s", exc)
            continue
        if isinstance(data, list):
            records.extend(d for d in data if isinstance(d, dict))
    return records


def summarize_figure_local(fig: Any) -> dict[str, Any]:
    """Summarize a matplotlib Figure in this process (tests, oracle tools).

    Uses the same code as the kernel hook; draws the figure first so tick
    labels exist, as they do when the kernel records a displayed figure.
    """
    ns: dict[str, Any] = {"get_ipython": lambda: None}
    exec(compile(_HOOK_MODULE_SOURCE, "<cibench-figdata>", "exec"), ns)
    fig.canvas.draw()
    return cast(dict[str, Any], ns["summarize_figure"](fig, "local"))


# --------------------------------------------------------------------------
# Similarity
# --------------------------------------------------------------------------

_TOL = 0.01  # tolerance: 1% of the expected data's range per dimension
_DECOR_WEIGHT = 0.1  # weight of unlabeled 1-2 point lines (error bars, axhline)
_DATA_WEIGHT = 0.8  # axes score = 0.8 data + 0.2 labels (when labels expected)
_CROSS_KIND = 0.5  # same values drawn with another kind of artist


class _Series:
    """One plotted data series reduced to comparable arrays."""

    def __init__(
        self,
        kind: str,
        values: np.ndarray,
        points: np.ndarray | None = None,
        weight: float = 1.0,
        shape: tuple[int, ...] | None = None,
    ) -> None:
        self.kind = kind
        self.values = values
        self.points = points
        self.weight = weight
        self.shape = shape


def _arr(rows: Any) -> np.ndarray:
    try:
        a = np.array(
            [
                [np.nan if v is None else v for v in r]
                if isinstance(r, list)
                else (np.nan if r is None else r)
                for r in rows
            ],
            dtype=float,
        )
    except (TypeError, ValueError):
        return np.zeros((0,))
    return a


def _finite_rows(a: np.ndarray) -> np.ndarray:
    """Drop entries (1-D) or rows (2-D) holding a missing / non-finite value."""
    if a.ndim == 1:
        return cast(np.ndarray, a[np.isfinite(a)])
    if a.ndim == 2:
        return a[np.all(np.isfinite(a), axis=1)]
    return np.zeros((0,))


def _bar_series(bar: dict[str, Any]) -> _Series | None:
    rects = _finite_rows(_arr(bar.get("rects", [])))
    if rects.ndim != 2 or rects.shape[0] == 0 or rects.shape[1] != 4:
        return None
    x, y, w, h = rects.T
    orient = bar.get("orientation")
    if orient not in ("vertical", "horizontal"):
        orient = "horizontal" if (np.ptp(x) == 0 and np.ptp(y) > 0) else "vertical"
    if orient == "vertical":
        pos, val = x + w / 2, h
    else:
        pos, val = y + h / 2, w
    return _Series("bar", val, np.column_stack([pos, val]))


def _axes_series(ax: dict[str, Any]) -> list[_Series]:
    out: list[_Series] = []
    for line in ax.get("lines", []):
        xy = _finite_rows(_arr(line.get("xy", [])))
        if xy.ndim != 2 or xy.shape[0] == 0:
            continue
        decor = str(line.get("label", "")).startswith("_") and xy.shape[0] <= 2
        out.append(_Series("xy", xy[:, 1], xy, _DECOR_WEIGHT if decor else 1.0))
    for bar in ax.get("bars", []):
        s = _bar_series(bar)
        if s is not None:
            out.append(s)
    wedges = _finite_rows(_arr(ax.get("wedges", [])))
    if wedges.ndim == 2 and wedges.shape[0]:
        spans = np.abs(wedges[:, 1] - wedges[:, 0])
        if spans.sum() > 0:
            out.append(_Series("pie", spans / spans.sum()))
    for coll in ax.get("collections", []):
        if "offsets" in coll:
            pts = _finite_rows(_arr(coll["offsets"]))
            if pts.ndim == 2 and pts.shape[0]:
                out.append(_Series("xy", pts[:, 1], pts))
        elif coll.get("array"):
            vals = _finite_rows(_arr(coll["array"]))
            out.append(_Series("array", vals, shape=tuple(coll.get("array_shape", []))))
    for im in ax.get("images", []):
        vals = _finite_rows(_arr(im.get("sample", [])))
        if vals.size:
            out.append(_Series("array", vals, shape=tuple(im.get("shape", []))))
    return out


def _scale(a: np.ndarray) -> np.ndarray:
    """Per-column tolerance: 1% of the range (or of the magnitude if flat)."""
    a = a.reshape(len(a), -1)
    rng = np.ptp(a, axis=0) if len(a) else np.zeros(a.shape[1])
    mag = np.max(np.abs(a), axis=0) if len(a) else np.zeros(a.shape[1])
    base = np.where(rng > 0, rng, np.where(mag > 0, mag, 1.0))
    return _TOL * base


def _cap(a: np.ndarray, n: int = 500) -> np.ndarray:
    if len(a) <= n:
        return a
    return cast(np.ndarray, a[np.linspace(0, len(a) - 1, n).round().astype(int)])


def _set_match(a: np.ndarray, b: np.ndarray) -> float:
    """Symmetric share of rows of ``a``/``b`` having a close row in the other."""
    if len(a) == 0 or len(b) == 0:
        return float(len(a) == len(b))
    a2, b2 = _cap(a.reshape(len(a), -1)), _cap(b.reshape(len(b), -1))
    tol = _scale(a2)
    close = np.all(np.abs(a2[:, None, :] - b2[None, :, :]) <= tol + 1e-12, axis=2)
    return float(0.5 * (close.any(axis=1).mean() + close.any(axis=0).mean()))


def _sorted_match(a: np.ndarray, b: np.ndarray) -> float:
    """Multiset comparison of 1-D values (aligned when lengths agree)."""
    if len(a) == 0 or len(b) == 0:
        return float(len(a) == len(b))
    if len(a) == len(b):
        sa, sb = np.sort(a), np.sort(b)
        return float(np.mean(np.abs(sa - sb) <= _scale(sa)[0] + 1e-12))
    return _set_match(a, b) * min(len(a), len(b)) / max(len(a), len(b))


def _series_sim(e: _Series, f: _Series) -> float:
    if e.kind == "array" or f.kind == "array":
        if e.kind != f.kind:
            return 0.0
        if e.shape and e.shape == f.shape and len(e.values) == len(f.values):
            tol = _scale(e.values)[0] + 1e-12
            return float(np.mean(np.abs(e.values - f.values) <= tol))
        q = np.linspace(0, 1, 21)
        if len(e.values) == 0 or len(f.values) == 0:
            return 0.0
        return 0.5 * _sorted_match(np.quantile(e.values, q), np.quantile(f.values, q))
    if e.kind == f.kind and e.points is not None and f.points is not None:
        return _set_match(e.points, f.points)
    factor = 1.0 if e.kind == f.kind else _CROSS_KIND
    return factor * _sorted_match(e.values, f.values)


def _dice_assign(sim: np.ndarray, we: list[float], wf: list[float]) -> float:
    """Greedy one-to-one pairing by similarity; weighted Dice-style score."""
    total = sum(we) + sum(wf)
    if total == 0:
        return 1.0
    used_e: set[int] = set()
    used_f: set[int] = set()
    score = 0.0
    order = (
        np.dstack(np.unravel_index(np.argsort(-sim, axis=None), sim.shape))[0] if sim.size else []
    )
    for i, j in order:
        if i in used_e or j in used_f:
            continue
        used_e.add(int(i))
        used_f.add(int(j))
        score += sim[i, j] * (we[i] + wf[j])
    return float(score / total)


def _tokens(text: str) -> set[str]:
    from .text import tokenize

    return set(tokenize(text))


def _jaccard(a: str, b: str) -> float:
    ta, tb = _tokens(a), _tokens(b)
    if not ta:
        return 1.0
    return len(ta & tb) / len(ta | tb)


def _categories(ax: dict[str, Any]) -> str:
    cats = []
    for axis in ("x", "y"):
        if ax.get(f"{axis}formatter") in ("StrCategoryFormatter", "FixedFormatter"):
            cats.extend(ax.get(f"{axis}ticklabels", []))
    return " ".join(cats)


def _label_sim(e: dict[str, Any], f: dict[str, Any]) -> float | None:
    """Mean token Jaccard over the label fields the expected axes has."""
    fields = [
        (e.get("title", ""), f.get("title", "")),
        (
            e.get("xlabel", "") + " " + e.get("ylabel", ""),
            f.get("xlabel", "") + " " + f.get("ylabel", ""),
        ),
        (" ".join(e.get("legend", [])), " ".join(f.get("legend", []))),
        (_categories(e), _categories(f)),
    ]
    scores = [_jaccard(a, b) for a, b in fields if _tokens(a)]
    return sum(scores) / len(scores) if scores else None


def _axes_sim(e: dict[str, Any], f: dict[str, Any]) -> float:
    es, fs = _axes_series(e), _axes_series(f)
    if not es and not fs:
        data = 1.0
    elif not es or not fs:
        data = 0.0
    else:
        sim = np.array([[_series_sim(a, b) for b in fs] for a in es])
        data = _dice_assign(sim, [s.weight for s in es], [s.weight for s in fs])
    labels = _label_sim(e, f)
    if labels is None:
        return data
    return _DATA_WEIGHT * data + (1 - _DATA_WEIGHT) * labels


def figure_data_similarity(expected: dict[str, Any], found: dict[str, Any]) -> float:
    """Similarity in [0, 1] of two figure summaries (see the module docstring).

    Method: colorbar axes are ignored; the remaining axes are paired greedily
    by similarity and combined Dice-style (``2 * sum(sim) / (n_exp + n_found)``),
    so missing or extra subplots cost.  Per axes, 80% data and 20% labels
    (title, axis labels, legend, category tick labels; token Jaccard; only
    fields present in the expected axes count; with none, 100% data).
    Data: every line (x, y points), bar container (position, value -- bar and
    barh of the same data agree), scatter (offsets), pie (wedge fractions) and
    mesh/image (values) is a series; series are paired greedily, weighted
    (unlabeled 1-2 point lines such as error bars and ax-lines weigh 0.1).
    Points are compared as sets with a tolerance of 1% of the expected range
    per dimension (order-insensitive, so plotting order, colours, sizes,
    markers, dpi and figure size do not matter); the same values drawn with
    another artist kind (line vs bar) score half a match.  Any malformed record gives 0.
    """
    try:
        if expected.get("error") or found.get("error"):
            return 0.0
        ea = [a for a in expected.get("axes", []) if not a.get("colorbar")]
        fa = [a for a in found.get("axes", []) if not a.get("colorbar")]
        if not ea and not fa:
            return 1.0
        if not ea or not fa:
            return 0.0
        sim = np.array([[_axes_sim(a, b) for b in fa] for a in ea])
        value = _dice_assign(sim, [1.0] * len(ea), [1.0] * len(fa))
    except Exception as exc:  # malformed summaries are data, not a crash
        logger.info("figure_data_similarity failed: %r", exc)
        return 0.0
    return float(min(1.0, max(0.0, value))) if math.isfinite(value) else 0.0
