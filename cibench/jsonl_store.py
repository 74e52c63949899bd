"""One append-only JSONL map from a key to an entry, fsynced before an entry is used.

Both caches of paid calls (model replies, vision-judge verdicts) keep their entries this way so a
run killed at any moment resumes without paying twice. A kill can leave a torn last line: it is
skipped on load, and the next write starts on a fresh line so the torn bytes never glue onto (and
spoil) the next entry.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class JsonlStore:
    """Entries are JSON objects holding their key under `key_field`; the last one wins."""

    def __init__(self, path: str | Path, key_field: str = "key",
                 valid: Callable[[dict[str, Any]], bool] | None = None):
        self.path = Path(path)
        self.key_field = key_field
        self.valid = valid  # a line failing this check is skipped like a torn one
        self.entries: dict[str, dict[str, Any]] = {}
        self.unreadable = 0
        self._load()

    def _load(self) -> None:
        if not self.path.is_file():
            return
        with self.path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    entry = json.loads(line)
                    key = entry[self.key_field]
                except (ValueError, KeyError, TypeError):
                    self.unreadable += 1
                    continue
                if isinstance(key, str) and (self.valid is None or self.valid(entry)):
                    self.entries[key] = entry
                else:
                    self.unreadable += 1
        if self.unreadable:
            log.warning("%s: skipped %d unreadable line(s) (a run killed mid-write?)", self.path,
                        self.unreadable)
        log.debug("%s: %d entries", self.path, len(self.entries))

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def put(self, entry: dict[str, Any]) -> None:
        key = entry[self.key_field]
        line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+b") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell():
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":  # a torn last line: end it first
                    fh.write(b"\n")
            fh.write(line.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        self.entries[key] = entry
