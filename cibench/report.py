"""Reports: tables over one or more run folders, read only from their session notebooks.

This module builds the report's data (`build_report`) and writes its tabular files:
`report.json`, `report.md`, `scores.csv` (one row per step) and `leaderboard.csv` (CIBench's
layout). `write_report` also has the figures (`report_figures`), the HTML page (`report_html`)
and the rendered session notebooks (`report_sessions`) made beside them.

Per (model, mode): the pooled metrics, the same per module, per difficulty and per step type,
failure categories, and a CIBench-style leaderboard row per model that pairs its end-to-end and
oracle runs: E-/O- Tool, Exe, Num, Text, Vis and Avg (the mean of Num, Text and Vis over both
modes). Module scores are pooled over the module's steps, so their step-count weighted average
equals the overall score, as in CIBench.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter
from pathlib import Path
from typing import Any

from .collector import clean_name
from .errors import RunDirError
from .fsutil import atomic_write_json, atomic_write_text, check_folder_arg
from .notebook import read_session
from .records import SessionRecord, StepRecord
from .rundir import session_paths
from .scoring.aggregate import pool
from .scoring.sampled import pass_at_k_table, sample_of

log = logging.getLogger(__name__)

REPORT_SCHEMA_VERSION = 1  # report.json

LEADERBOARD_METRICS = (("tool_rate", "Tool"), ("exec_rate", "Exe"), ("num_acc", "Num"),
                       ("text_score", "Text"), ("vis_score", "Vis"))
TABLE_METRICS = (("tool_rate", "Tool"), ("exec_rate", "Exe"), ("num_acc", "Num"),
                 ("text_score", "Text"), ("vis_score", "Vis"), ("vis_data_score", "VisData"),
                 ("vis_judge_score", "VisJudge"), ("check_rate", "Check"))
# per-step score fields (StepScore, 0..1 or None) as they appear in scores.csv
STEP_FIELDS = ("tool", "exec", "num", "text", "vis", "vis_data", "vis_judge", "check")
SCORES_COLUMNS = ("model", "mode", "scoring", "suite", "task", "sample", "step", "type",
                  *STEP_FIELDS, "passed", "failure", "attempts", "ran_at_attempt")
DIFFICULTY_ORDER = ("easy", "medium", "hard")


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


def _read_runs(run_dirs: list[Path]) -> list[tuple[Path, SessionRecord]]:
    """(notebook path, record) of every readable session; unreadable notebooks are skipped
    with a warning, a missing folder or one without sessions is a RunDirError."""
    found: list[tuple[Path, SessionRecord]] = []
    for run_dir in run_dirs:
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise RunDirError("no such run folder" if not run_dir.exists()
                              else "not a folder", path=run_dir,
                              hint="give `cibench report` the --out folder of a `cibench run`")
        mine = []
        for path in session_paths(run_dir):
            try:
                mine.append((path, read_session(path, any_schema=True)))
            except RunDirError as exc:
                log.warning("skipped: %s", exc)
        if not mine:
            raise RunDirError("no session notebooks in this folder", path=run_dir,
                              hint="give `cibench report` the --out folder of a `cibench run`")
        found.extend(mine)
    return found


def _first_run(step: StepRecord) -> int | None:
    """The attempt (1-based) whose code first ran without error; None if none did."""
    for n, attempt in enumerate(step.attempts, 1):
        if attempt.execution is not None and attempt.execution.ok:
            return n
    return None


def _split_id(task_id: str) -> tuple[str, str]:
    suite, _, name = task_id.rpartition("/")
    return suite, name


def session_entry(path: Path, record: SessionRecord) -> dict[str, Any]:
    """One session of the report: the task, its pooled scores and every step's scores."""
    suite, name = _split_id(record.task.id)
    steps = []
    for step in record.steps:
        score = step.score
        steps.append({
            "step": step.index, "type": step.type, "attempts": len(step.attempts),
            "ran_at_attempt": _first_run(step), "gave_up": step.gave_up,
            **{f: (getattr(score, f) if score else None) for f in STEP_FIELDS},
            "passed": bool(score and score.passed),
            "failure": score.failure if score else None})
    passed = sum(1 for s in steps if s["passed"])
    return {
        "model": record.run.model, "mode": record.run.mode, "scoring": record.run.scoring,
        "suite": suite, "task": name, "task_id": record.task.id,
        "title": record.task.title or name, "module": record.task.module or "(none)",
        "difficulty": record.task.difficulty or "(none)", "sample": sample_of(record),
        "status": record.status, "error": record.error, "notebook": str(path),
        "steps_total": len(steps), "steps_passed": passed,
        "pass_rate": round(100.0 * passed / len(steps), 2) if steps else None,
        "metrics": pool(record.steps),
        "failures": dict(Counter(s["failure"] for s in steps if s["failure"]).most_common()),
        "steps": steps,
    }


def build_report(run_dirs: list[Path]) -> dict[str, Any]:
    found = _read_runs(run_dirs)
    records = [r for _, r in found]
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
    sessions = sorted((session_entry(p, r) for p, r in found),
                      key=lambda e: (e["model"], e["mode"], e["scoring"], e["task_id"],
                                     e["sample"] or 0))
    return {"schema_version": REPORT_SCHEMA_VERSION, "runs": [str(p) for p in run_dirs],
            "rows": rows, "leaderboard": leaderboard(rows), "sessions": sessions}


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


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return round(value, 4)
    return value


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[_csv_value(v) for v in row] for row in rows])
    return buf.getvalue()


def scores_csv(report: dict[str, Any]) -> str:
    """One row per model × mode × task × step of the complete sessions: each metric's score
    in 0..1 (empty where it does not apply), passed (0/1), failure category, attempts."""
    rows = []
    for entry in report["sessions"]:
        if entry["status"] != "complete":
            continue
        for step in entry["steps"]:
            merged = {**entry, **step}
            rows.append([merged[c] for c in SCORES_COLUMNS])
    return _csv(list(SCORES_COLUMNS), rows)


def leaderboard_label(entry: dict[str, Any], board: list[dict[str, Any]]) -> str:
    """The model's name, with its scoring profile when the board holds more than one."""
    if len({e["scoring"] for e in board}) > 1:
        return f"{entry['model']} [{entry['scoring']}]"
    return entry["model"]


LEADERBOARD_COLUMNS = tuple(f"{p}-{label}" for p in "EO" for _, label in LEADERBOARD_METRICS)


def leaderboard_csv(report: dict[str, Any]) -> str:
    """CIBench's layout: model, E-Tool … E-Vis, O-Tool … O-Vis, Avg (percent, one decimal)."""
    board = report["leaderboard"]
    rows = [[leaderboard_label(e, board)]
            + [None if e[c] is None else round(e[c], 1) for c in (*LEADERBOARD_COLUMNS, "Avg")]
            for e in board]
    return _csv(["model", *LEADERBOARD_COLUMNS, "Avg"], rows)


def write_report(run_dirs: list[Path], out: Path, *, sessions_html: bool = True) -> dict[str, Any]:
    """Write the report folder OUT: index.html (with figures/ and sessions/ beside it),
    report.md, report.json, scores.csv, leaderboard.csv. Returns the report."""
    from .report_figures import draw_figures
    from .report_html import write_index
    from .report_sessions import render_sessions

    out = check_folder_arg(out, "--out")
    report = build_report(run_dirs)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "report.json", report)
    atomic_write_text(out / "report.md", render_markdown(report))
    atomic_write_text(out / "scores.csv", scores_csv(report))
    atomic_write_text(out / "leaderboard.csv", leaderboard_csv(report))
    figures = draw_figures(report, out / "figures")
    pages = render_sessions(report, out) if sessions_html else {}
    write_index(report, figures, pages, out)
    log.info("report written to %s", out)
    return report
