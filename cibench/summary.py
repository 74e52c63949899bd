"""`OUT/summary.json`: one result row per (model, mode), pooled over every step of its sessions:
`{"schema_version": 1, "results": [{"model", "mode", "tasks", "steps", "metrics": {...}, ...}]}`,
metrics in percent, null where no step has the type."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .collector import clean_name
from .records import SessionRecord, Usage
from .scoring.aggregate import pool
from .scoring.sampled import pass_at_k_table
from .scoring.scorer import NO_ANSWER

SUMMARY_SCHEMA_VERSION = 1  # OUT/summary.json (its own version: bumping it invalidates nothing else)
REPLAY_PROTOCOL = "replay"  # agents/replay.py: answers read from a file


@dataclass
class RunResult:
    out: Path
    summary: dict[str, Any]
    errors: int  # sessions that ended in an infrastructure error
    invalid: int = 0  # tasks skipped because their references fail (see summary invalid_tasks)
    skipped: int = 0  # tasks set aside until their assets are in place (summary skipped_tasks)


def summarize(records: list[SessionRecord]) -> dict[str, Any]:
    """summary.json: one result row per (model, mode), pooled over every step of its sessions."""
    groups: dict[tuple[str, str], list[SessionRecord]] = {}
    for record in records:
        groups.setdefault((record.run.model, record.run.mode), []).append(record)
    results = []
    for (model, mode), recs in groups.items():
        done = [r for r in recs if r.status == "complete"]
        steps = [s for r in done for s in r.steps]
        usage = Usage()
        for r in recs:
            usage.add(r.usage)
        failures = Counter(clean_name(s.score.failure) for s in steps
                           if s.score and s.score.failure)
        results.append({
            "model": model, "mode": mode, "scoring": recs[0].run.scoring,
            "protocol": recs[0].run.protocol, "tasks": len(done), "steps": len(steps),
            "errors": [{"task": r.task.id, "error": r.error} for r in recs if r.status != "complete"],
            "metrics": pool(steps),
            "usage": {"model_calls": usage.model_calls, "tokens_in": usage.tokens_in,
                      "tokens_out": usage.tokens_out, "cost_usd": usage.cost_usd,
                      "model_seconds": round(usage.model_seconds, 3),
                      "kernel_seconds": round(sum(r.kernel_seconds for r in recs), 3)},
            "failures": dict(sorted(failures.items())),
        })
        if any(r.run.protocol == REPLAY_PROTOCOL for r in recs):
            # replayed answers: how many sessions (task x sample) the file had nothing for
            results[-1]["no_answer"] = sum(
                1 for r in done if any(s.score and s.score.failure == NO_ANSWER for s in r.steps))
        sampled = pass_at_k_table(recs)
        if sampled:
            results[-1].update(sessions=len(done), tasks=sampled["tasks"],
                               samples=sampled["samples"], pass_at_k=sampled["pass_at_k"])
            if sampled.get("skipped"):  # generations CRUXEval leaves out before counting
                results[-1]["cruxeval_skipped"] = sampled["skipped"]
    return {"schema_version": SUMMARY_SCHEMA_VERSION, "results": results}
