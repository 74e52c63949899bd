"""Reading a run folder back: its session notebooks and the records they hold."""

from __future__ import annotations

import logging
from pathlib import Path

from .errors import RunDirError
from .notebook import read_session
from .records import SessionRecord

log = logging.getLogger(__name__)


def session_paths(out: Path) -> list[Path]:
    """The session notebooks of a run folder: every .ipynb below a model folder."""
    return [p for p in sorted(Path(out).rglob("*.ipynb")) if ".ipynb_checkpoints" not in p.parts]


def collect_sessions(out: Path, known: dict[Path, SessionRecord] | None = None
                     ) -> list[SessionRecord]:
    """Every readable session of a run folder; other notebooks are skipped with a warning.
    `known`: records this process just wrote, by notebook path, used instead of reading their
    notebooks back (with thousands of replayed samples that is the slow part of a run)."""
    records = []
    known = known or {}
    for path in session_paths(out):
        if path in known:
            records.append(known[path])
            continue
        try:
            records.append(read_session(path))
        except RunDirError as exc:
            log.warning("skipped: %s", exc)
    return records
