"""Where a run folder keeps each session: one notebook per (model, task[, sample]).

`OUT/<model-slug>/<task-id>.ipynb`, and with `--samples N` `OUT/<model-slug>/<task-id>.sample-<i>.ipynb`.
"""

from __future__ import annotations

import re
from pathlib import Path

from .records import SessionRecord


def model_slug(model: str) -> str:
    """A folder name for a model: `openai/gpt-4o` -> `openai--gpt-4o`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "--", model).strip("-") or "model"


def session_path(out: Path, model: str, task_id: str) -> Path:
    return Path(out) / model_slug(model) / f"{task_id}.ipynb"


def sample_path(out: Path, model: str, task_id: str, sample: int) -> Path:
    return Path(out) / model_slug(model) / f"{task_id}.sample-{sample}.ipynb"


def record_path(out: Path, record: SessionRecord) -> Path:
    sample = record.run.params.sample
    return (session_path(out, record.run.model, record.task.id) if sample is None
            else sample_path(out, record.run.model, record.task.id, sample))
