"""Reports: tables over one or more run folders, read only from their session notebooks.

Per (model, mode): the pooled metrics, the same per module, per difficulty and per step type,
failure categories, and a CIBench-style leaderboard row per model that pairs its end-to-end and
oracle runs: E-/O- Tool, Exe, Num, Text, Vis and Avg (the mean of Num, Text and Vis over both
modes). Module scores are pooled over the module's steps, so their step-count weighted average
equals the overall score, as in CIBench.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from .collector import clean_name
from .errors import RunDirError
from .fsutil import atomic_write_json, atomic_write_text
from .records import SCHEMA_VERSION, SessionRecord, StepRecord
from .runner import collect_sessions
from .sampling import pass_at_k_table
from .scoring.aggregate import pool

LEADERBOARD_METRICS = (("tool_rate", "Tool"), ("exec_rate", "Exe"), ("num_acc", "Num"),
                       ("text_score", "Text"), ("vis_score", "Vis"))
TABLE_METRICS = (("tool_rate", "Tool"), ("exec_rate", "Exe"), ("num_acc", "Num"),
                 ("text_score", "Text"), ("vis_score", "Vis"), ("vis_data_score", "VisData"),
                 ("vis_judge_score", "VisJudge"), ("check_rate", "Check"))


def _group_steps(records: list[SessionRecord], key: str) -> dict[str, list[StepRecord]]:
    groups: dict[str, list[StepRecord]] = {}
    for record in records:
        for step in record.steps:
            if key == "module":
                name = record.task.module or "(none)"
            elif key == "difficulty":
                name = record.task.difficulty or "(none)"
            else:
                name = step.type
            groups.setdefault(name, []).append(step)
    return dict(sorted(groups.items()))


def build_report(run_dirs: list[Path]) -> dict[str, Any]:
    records: list[SessionRecord] = []
    for run_dir in run_dirs:
        if not Path(run_dir).is_dir():
            raise RunDirError("no such run folder", path=run_dir)
        found = collect_sessions(Path(run_dir))
        if not found:
            raise RunDirError("no session notebooks in this folder", path=run_dir)
        records.extend(found)
    groups: dict[tuple[str, str, str], list[SessionRecord]] = {}
    for r in records:
        groups.setdefault((r.run.model, r.run.mode, r.run.scoring), []).append(r)
    rows = []
    for (model, mode, scoring), recs in sorted(groups.items()):
        done = [r for r in recs if r.status == "complete"]
        steps = [s for r in done for s in r.steps]
        rows.append({
            "model": model, "mode": mode, "scoring": scoring, "tasks": len(done),
            "errors": len(recs) - len(done), "steps": len(steps), "metrics": pool(steps),
            "by_module": {k: {"steps": len(v), **pool(v)}
                          for k, v in _group_steps(done, "module").items()},
            "by_difficulty": {k: {"steps": len(v), **pool(v)}
                              for k, v in _group_steps(done, "difficulty").items()},
            "by_step_type": {k: {"steps": len(v), **pool(v)}
                             for k, v in _group_steps(done, "type").items()},
            "failures": dict(Counter(clean_name(s.score.failure) for s in steps
                                     if s.score and s.score.failure).most_common()),
        })
        sampled = pass_at_k_table(recs)
        if sampled:
            rows[-1].update(sessions=len(done), tasks=sampled["tasks"],
                            samples=sampled["samples"], pass_at_k=sampled["pass_at_k"])
    return {"schema_version": SCHEMA_VERSION, "runs": [str(p) for p in run_dirs],
            "rows": rows, "leaderboard": leaderboard(rows)}


def leaderboard(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (model, scoring): E-/O- metrics and Avg over the modes present."""
    by_model: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_model.setdefault((row["model"], row["scoring"]), {})[row["mode"]] = row["metrics"]
    board = []
    for (model, scoring), modes in sorted(by_model.items()):
        entry: dict[str, Any] = {"model": model, "scoring": scoring}
        avg_parts = []
        for mode, prefix in (("e2e", "E"), ("oracle", "O")):
            metrics = modes.get(mode)
            for key, label in LEADERBOARD_METRICS:
                value = metrics.get(key) if metrics else None
                entry[f"{prefix}-{label}"] = value
                if key in ("num_acc", "text_score", "vis_score") and value is not None:
                    avg_parts.append(value)
        entry["Avg"] = round(sum(avg_parts) / len(avg_parts), 2) if avg_parts else None
        entry["modes"] = sorted(modes)
        board.append(entry)
    return board


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(report: dict[str, Any]) -> str:
    out = ["# cibench report", "", "Runs: " + ", ".join(f"`{r}`" for r in report["runs"]), ""]
    board = report["leaderboard"]
    if board:
        cols = ["model", "scoring"] + [f"{p}-{label}" for p in "EO"
                                       for _, label in LEADERBOARD_METRICS] + ["Avg"]
        out += ["## Leaderboard", "", "Avg = mean of Num, Text and Vis over the modes present "
                "(both modes, as CIBench, when both were run).", "",
                _table(cols, [[e.get(c) for c in cols] for e in board]), ""]
    for row in report["rows"]:
        out += [f"## {row['model']} · {row['mode']} · scoring `{row['scoring']}`", "",
                f"{row['tasks']} tasks, {row['steps']} steps"
                + (f", {row['errors']} sessions with infrastructure errors" if row["errors"]
                   else ""), ""]
        if row.get("pass_at_k"):
            out += [f"{row['samples']} samples per task: " + ", ".join(
                f"{k} {v:.1f}" for k, v in row["pass_at_k"].items())
                + " (a sample passes when all its steps pass)", ""]
        keys = [k for k, _ in TABLE_METRICS]
        heads = [label for _, label in TABLE_METRICS]
        out += [_table(["", "steps"] + heads,
                       [["all", row["steps"]] + [row["metrics"].get(k) for k in keys]]), ""]
        for title, field in (("module", "by_module"), ("difficulty", "by_difficulty"),
                             ("step type", "by_step_type")):
            out += [f"### By {title}", "",
                    _table([title, "steps"] + heads,
                           [[name, g["steps"]] + [g.get(k) for k in keys]
                            for name, g in row[field].items()]), ""]
        if row["failures"]:
            out += ["### Failures", "", _table(["category", "steps"],
                                               [[k, v] for k, v in row["failures"].items()]), ""]
    return "\n".join(out)


def write_report(run_dirs: list[Path], out: Path) -> dict[str, Any]:
    """Write OUT.md and OUT.json; returns the report."""
    report = build_report(run_dirs)
    out = Path(out)
    atomic_write_json(out.with_suffix(".json"), report)
    atomic_write_text(out.with_suffix(".md"), render_markdown(report))
    return report
