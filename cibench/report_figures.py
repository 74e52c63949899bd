"""The report's figures: PNG files drawn with matplotlib's Agg canvas from `build_report`'s data.

Every figure compares *series*, one per (model, mode[, scoring]) row of the report. A model keeps
one colour in every figure (and in the HTML page's legend chips); its end-to-end series is
drawn solid, its oracle series hatched. Drawing is deterministic: the default style with a few
fixed settings, a fixed DPI, no timestamp or software tag in the PNG, so the same report gives
the same bytes. A figure without data is not drawn; `draw_figures` returns why instead.
"""

from __future__ import annotations

import io
import logging
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import matplotlib
import matplotlib.style
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .fsutil import atomic_write_bytes
from .report import DIFFICULTY_ORDER, TABLE_METRICS

log = logging.getLogger(__name__)

DPI = 100
# Okabe–Ito, then tab10: distinguishable for colour-blind readers; model i gets colour i
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
STYLE = {
    "font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 11,
    "axes.titleweight": "bold", "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "axes.grid.axis": "y", "grid.color": "#e3e3e3", "grid.linewidth": 0.8,
    "axes.axisbelow": True, "legend.frameon": False, "legend.fontsize": 8,
    "savefig.facecolor": "white", "figure.facecolor": "white", "hatch.linewidth": 0.8,
    "svg.hashsalt": "cibench", "path.simplify": True,
}
FIG_METRICS = TABLE_METRICS
MODE_NAMES = {"e2e": "end-to-end", "oracle": "oracle"}
MAX_FAILURE_ROWS = 12


# --------------------------------------------------------------------------------------------
# series and colours (shared with the HTML page)

def series_of(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(model, mode, scoring) of every row, in the report's order."""
    return [(r["model"], r["mode"], r["scoring"]) for r in report["rows"]]


def model_colours(report: dict[str, Any]) -> dict[str, str]:
    """One colour per model, by sorted name, so a model looks the same in every figure."""
    models = sorted({r["model"] for r in report["rows"]} | {s["model"] for s in report["sessions"]})
    return {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(models)}


def series_label(key: tuple[str, str, str], report: dict[str, Any]) -> str:
    model, mode, scoring = key
    label = f"{model} · {MODE_NAMES.get(mode, mode)}"
    if len({r["scoring"] for r in report["rows"]}) > 1:
        label += f" · {scoring}"
    return label


def _bar_style(key: tuple[str, str, str], colours: dict[str, str]) -> dict[str, Any]:
    colour = colours.get(key[0], "#777777")
    if key[1] == "oracle":
        r, g, b = to_rgb(colour)
        light = (r + (1 - r) * 0.55, g + (1 - g) * 0.55, b + (1 - b) * 0.55)
        return {"facecolor": light, "edgecolor": colour, "hatch": "///", "linewidth": 0.8}
    return {"facecolor": colour, "edgecolor": colour, "linewidth": 0.8}


# --------------------------------------------------------------------------------------------
# the data each figure needs

def _complete(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in report["sessions"] if s["status"] == "complete"]


def _key(session: dict[str, Any]) -> tuple[str, str, str]:
    return session["model"], session["mode"], session["scoring"]


def _pass_rates(report: dict[str, Any], group: str) -> dict[tuple[str, str, str], dict[str, float]]:
    """Per series: group value -> percent of steps passed. group: module, difficulty, steps."""
    counts: dict[tuple[str, str, str], dict[str, list[int]]] = {}
    for s in _complete(report):
        name = str(s["steps_total"]) if group == "steps" else s[group]
        cell = counts.setdefault(_key(s), {}).setdefault(name, [0, 0])
        cell[0] += s["steps_passed"]
        cell[1] += s["steps_total"]
    return {k: {g: 100.0 * p / t for g, (p, t) in v.items() if t} for k, v in counts.items()}


def _difficulty_sort(name: str) -> tuple[int, str]:
    return (DIFFICULTY_ORDER.index(name) if name in DIFFICULTY_ORDER else len(DIFFICULTY_ORDER),
            name)


# --------------------------------------------------------------------------------------------
# drawing

def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _grouped_bars(ax: Any, groups: list[str], series: list[tuple[str, str, str]],
                  values: Mapping[tuple[str, str, str], Mapping[str, float | None]],
                  colours: dict[str, str], report: dict[str, Any], *, labels: bool = True,
                  fmt: str = "{:.1f}", zeros: bool = True) -> None:
    n = max(len(series), 1)
    width = 0.8 / n
    for i, key in enumerate(series):
        xs, ys = [], []
        for j, group in enumerate(groups):
            value = values.get(key, {}).get(group)
            if value is not None:
                xs.append(j - 0.4 + width * (i + 0.5))
                ys.append(value)
        bars = ax.bar(xs, ys, width * 0.92, label=series_label(key, report),
                      **_bar_style(key, colours))
        if labels and n <= 4 and n * len(groups) <= 32:
            ax.bar_label(bars, labels=[fmt.format(y) if y or zeros else "" for y in ys], fontsize=7,
                         padding=1.5, color="#333333")
    ax.set_xticks(range(len(groups)), groups)
    ax.set_xlim(-0.6, len(groups) - 0.4)


def _bar_width(groups: int, series: int) -> float:
    """Figure width in inches for grouped bars: room for the bars plus the legend."""
    return min(12.0, max(7.0, 3.0 + 0.17 * groups * max(series, 2)))


def _legend(fig: Figure, ax: Any, count: int) -> None:
    if count:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.2)


def _fig_metrics(report: dict[str, Any], colours: dict[str, str]) -> Figure | str:
    series = series_of(report)
    values = {(r["model"], r["mode"], r["scoring"]): r["metrics"] for r in report["rows"]}
    present = [(k, label) for k, label in FIG_METRICS
               if any(v.get(k) is not None for v in values.values())]
    if not present:
        return "no scored steps in these runs"
    groups = [label for _, label in present]
    by_label = {key: {label: v.get(k) for k, label in present} for key, v in values.items()}
    fig = _new_figure(_bar_width(len(groups), len(series)), 3.6)
    ax = fig.add_subplot()
    _grouped_bars(ax, groups, series, by_label, colours, report)
    ax.set_ylim(0, 112)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("score, %")
    ax.set_title("Metrics per model")
    _legend(fig, ax, len(series))
    return fig


def _fig_modules(report: dict[str, Any], colours: dict[str, str]) -> Figure | str:
    rates = _pass_rates(report, "module")
    series = [k for k in series_of(report) if k in rates]
    modules = sorted({m for v in rates.values() for m in v})
    if not series or not modules:
        return "no scored steps in these runs"
    grid = np.full((len(modules), len(series)), np.nan)
    for j, key in enumerate(series):
        for i, module in enumerate(modules):
            if module in rates[key]:
                grid[i, j] = rates[key][module]
    fig = _new_figure(min(14.0, max(5.0, 2.2 + 1.25 * len(series))),
                      max(2.4, 1.6 + 0.42 * len(modules)))
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["RdYlGn"].with_extremes(bad="#eeeeee")
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=100, aspect="auto")
    for i in range(len(modules)):
        for j in range(len(series)):
            value = grid[i, j]
            text = "–" if np.isnan(value) else f"{value:.1f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="#222222" if np.isnan(value) or 25 < value < 85 else "white")
    ax.set_xticks(range(len(series)),
                  [series_label(k, report).replace(" · ", "\n") for k in series], fontsize=8)
    for tick, key in zip(ax.get_xticklabels(), series, strict=False):
        tick.set_color(colours.get(key[0], "#333333"))
    ax.set_yticks(range(len(modules)), modules)
    ax.grid(False)
    ax.tick_params(length=0)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title("Steps passed per module, %")
    fig.colorbar(image, ax=ax, shrink=0.8, label="steps passed, %")
    return fig


def _fig_difficulty(report: dict[str, Any], colours: dict[str, str]) -> Figure | str:
    by_difficulty = _pass_rates(report, "difficulty")
    by_steps = _pass_rates(report, "steps")
    series = [k for k in series_of(report) if k in by_difficulty]
    if not series:
        return "no scored steps in these runs"
    difficulties = sorted({d for v in by_difficulty.values() for d in v}, key=_difficulty_sort)
    lengths = sorted({n for v in by_steps.values() for n in v}, key=int)
    fig = _new_figure(12.0, 3.6)
    left, right = fig.subplots(1, 2, width_ratios=[max(1, len(difficulties)),
                                                   max(1, len(lengths))])
    _grouped_bars(left, difficulties, series, by_difficulty, colours, report)
    left.set_title("By difficulty")
    left.set_ylabel("steps passed, %")
    _grouped_bars(right, [str(n) for n in lengths], series, by_steps, colours, report)
    right.set_title("By number of steps in the task")
    right.set_xlabel("steps in the task")
    for ax in (left, right):
        ax.set_ylim(0, 112)
        ax.set_yticks(range(0, 101, 20))
    _legend(fig, right, len(series))
    return fig


def _fig_attempts(report: dict[str, Any], colours: dict[str, str]) -> Figure | str:
    counts: dict[tuple[str, str, str], Counter] = {}
    most = 1
    for s in _complete(report):
        for step in s["steps"]:
            at = step["ran_at_attempt"]
            counts.setdefault(_key(s), Counter())[str(at) if at else "never ran"] += 1
            most = max(most, at or 1, step["attempts"])
    series = [k for k in series_of(report) if k in counts]
    if not series:
        return "no scored steps in these runs"
    groups = [str(n) for n in range(1, most + 1)] + ["never ran"]
    values = {k: {g: float(c[g]) for g in groups} for k, c in counts.items()}
    fig = _new_figure(_bar_width(len(groups), len(series)), 3.4)
    ax = fig.add_subplot()
    _grouped_bars(ax, groups, series, values, colours, report, fmt="{:.0f}",
                  zeros=False)
    ax.set_xlabel("attempt whose code first ran without error")
    ax.set_ylabel("steps")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    top = max((v for d in values.values() for v in d.values()), default=1)
    ax.set_ylim(0, top * 1.15 + 0.5)
    ax.set_title("Attempts to success")
    _legend(fig, ax, len(series))
    return fig


def _fig_failures(report: dict[str, Any], colours: dict[str, str]) -> Figure | str:
    counts: dict[tuple[str, str, str], Counter] = {}
    for s in _complete(report):
        for step in s["steps"]:
            if step["failure"]:
                counts.setdefault(_key(s), Counter())[step["failure"]] += 1
    if not counts:
        return "no failures: every step passed"
    total: Counter[str] = Counter()
    for c in counts.values():
        total.update(c)
    categories = [name for name, _ in sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))]
    if len(categories) > MAX_FAILURE_ROWS:
        keep = set(categories[:MAX_FAILURE_ROWS - 1])
        for key, c in counts.items():
            other = sum(v for name, v in c.items() if name not in keep)
            counts[key] = Counter({n: v for n, v in c.items() if n in keep})
            if other:
                counts[key]["(other)"] = other
        categories = categories[:MAX_FAILURE_ROWS - 1] + ["(other)"]
    series = [k for k in series_of(report) if k in counts]
    n = len(series)
    height = 0.8 / n
    fig = _new_figure(10.0, max(2.4, 1.2 + 0.22 * n * len(categories) + 0.15 * len(categories)))
    ax = fig.add_subplot()
    for i, key in enumerate(series):
        ys, widths = [], []
        for j, name in enumerate(categories):
            value = counts[key].get(name, 0)
            if value:
                ys.append(j - 0.4 + height * (i + 0.5))
                widths.append(value)
        bars = ax.barh(ys, widths, height * 0.92, label=series_label(key, report),
                       **_bar_style(key, colours))
        ax.bar_label(bars, fontsize=7, padding=2, color="#333333")
    ax.set_yticks(range(len(categories)),
                  [c if len(c) <= 42 else c[:41] + "…" for c in categories])
    ax.invert_yaxis()
    ax.grid(True, axis="x")
    ax.grid(False, axis="y")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("failed steps")
    ax.set_title("Failure categories")
    _legend(fig, ax, n)
    return fig


FIGURES = (
    ("metrics", "Metrics per model", _fig_metrics,
     "Each metric pooled over the steps it applies to, per model and mode (solid: end-to-end, "
     "hatched: oracle)."),
    ("modules", "Modules × models", _fig_modules,
     "Share of steps passed per task module; grey “–”: the series has no task of that "
     "module."),
    ("difficulty", "Difficulty and task length", _fig_difficulty,
     "Share of steps passed, by the tasks' difficulty and by their number of steps."),
    ("attempts", "Attempts to success", _fig_attempts,
     "Steps by the attempt whose code first ran without error; “never ran”: no attempt ran "
     "(no code, or every attempt failed)."),
    ("failures", "Failure categories", _fig_failures,
     "Why steps failed, counted per model and mode."),
)


def draw_figures(report: dict[str, Any], folder: Path) -> list[dict[str, Any]]:
    """Draw every figure into FOLDER as <name>.png. Returns, per figure in page order, its
    name, title, caption and either `file` (the PNG's path) or `skipped` (why there is none)."""
    folder = Path(folder)
    colours = model_colours(report)
    out = []
    with matplotlib.style.context("default"), matplotlib.rc_context(cast(Any, STYLE)):
        for name, title, draw, caption in FIGURES:
            entry: dict[str, Any] = {"name": name, "title": title, "caption": caption}
            result = draw(report, colours)
            path = folder / f"{name}.png"
            if isinstance(result, str):
                entry["skipped"] = result
                path.unlink(missing_ok=True)  # a figure left over from an earlier report
                log.info("figure %s skipped: %s", name, result)
            else:
                atomic_write_bytes(path, _png(result))
                entry["file"] = path
            out.append(entry)
    return out
