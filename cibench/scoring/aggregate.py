"""Pool per-step scores into percentages: per session, per run, per module, per step type."""

from __future__ import annotations

from collections.abc import Iterable

from ..records import StepRecord

METRICS = ("tool_rate", "exec_rate", "num_acc", "text_score", "vis_score", "check_rate")
EXTRA_METRICS = ("vis_data_score", "vis_judge_score")


def _mean(values: list[float]) -> float | None:
    return round(100.0 * sum(values) / len(values), 2) if values else None


def pool(steps: Iterable[StepRecord]) -> dict[str, float | None]:
    """Metrics in percent pooled over steps; None where no step has the metric."""
    steps = [s for s in steps if s.score is not None]
    scores = [s.score for s in steps if s.score is not None]
    out: dict[str, float | None] = {
        "tool_rate": _mean([s.tool for s in scores]),
        "exec_rate": _mean([s.exec for s in scores]),
        "num_acc": _mean([s.num for s in scores if s.num is not None]),
        "text_score": _mean([s.text for s in scores if s.text is not None]),
        "vis_score": _mean([s.vis for s in scores if s.vis is not None]),
        "check_rate": _mean([s.check for s in scores if s.check is not None]),
    }
    vis_data = [s.vis_data for s in scores if s.vis_data is not None]
    if vis_data:
        out["vis_data_score"] = _mean(vis_data)
    vis_judge = [s.vis_judge for s in scores if s.vis_judge is not None]
    if vis_judge:
        out["vis_judge_score"] = _mean(vis_judge)
    return out
