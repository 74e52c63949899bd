"""`cibench export-answers RUN_DIR [--out FILE]`: a run's replies as a cibench answers file.

One jsonl row per attempt, `{"task", "step", "attempt", "reply", "code", "model"}` plus `"sample"`
for sampled runs (format: answers.py, docs/importers.md). `code` is the exact code that ran
(`null` when the reply had none), so `cibench run ... --model answers:FILE` executes the same
cells and reproduces the run's scores; a step the replayed file had no answer for is not
exported, so it stays unanswered. Sessions that ended in an infrastructure error are left out.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .errors import RunDirError, UsageError
from .fsutil import atomic_write_text
from .notebook import read_session
from .records import SessionRecord

log = logging.getLogger(__name__)


def answer_rows(record: SessionRecord) -> list[dict]:
    rows = []
    sample = record.run.params.sample
    for step in record.steps:
        for attempt in step.attempts:
            if attempt.reply.no_answer:
                continue
            row = {"task": record.task.id, "step": step.index, "attempt": attempt.index,
                   "reply": attempt.reply.text, "code": attempt.reply.code,
                   "model": record.run.model}
            if sample is not None:
                row["sample"] = int(sample)
            rows.append(row)
    return rows


def export_answers(run_dir: Path, out: Path | None = None, model: str | None = None
                   ) -> tuple[Path, int, int]:
    """Write the answers of one model of a run; returns (file, rows, sessions)."""
    from .rundir import session_paths

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError("no such run folder", path=run_dir)
    records = []
    for path in session_paths(run_dir):
        try:
            records.append(read_session(path, any_schema=True))
        except RunDirError as exc:
            log.warning("skipped: %s", exc)
    if not records:
        raise RunDirError("no session notebooks found", path=run_dir)
    models = sorted({r.run.model for r in records})
    if model is None and len(models) > 1:
        raise UsageError(f"{run_dir} holds the models {', '.join(models)}: pick one with "
                         "--model NAME")
    model = model or models[0]
    if model not in models:
        raise UsageError(f"--model {model}: not in {run_dir} (it holds {', '.join(models)})")
    chosen = [r for r in records if r.run.model == model]
    errors = [r for r in chosen if r.status != "complete"]
    for r in errors:
        log.warning("%s: session ended in an error, not exported: %s", r.task.id, r.error)
    rows = [row for r in chosen if r.status == "complete" for row in answer_rows(r)]
    rows.sort(key=lambda r: (r["task"], r.get("sample", 0), r["step"], r["attempt"]))
    target = Path(out) if out is not None else run_dir / "answers.jsonl"
    if target.is_dir():
        raise UsageError(f"--out {target}: is a folder; give a file name")
    atomic_write_text(target, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return target, len(rows), len(chosen) - len(errors)
