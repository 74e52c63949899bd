"""Golden session notebooks: the normaliser that drops what legitimately varies between runs
(timings, run id, hashes, environment fingerprint, schema versions, image bytes, addresses,
temporary paths), and the comparison against a stored normalised copy.

Set CIBENCH_UPDATE_GOLDEN=1 to rewrite the stored copies after an intended change.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

GOLDEN = Path(__file__).parent / "golden"

VOLATILE_KEYS = {"seconds", "kernel_seconds", "started", "finished", "run_id", "sha256",
                 "environment", "model_seconds", "path", "created"}
#: versions are checked where they are read (tests/test_notebook.py pins the session schema);
#: the goldens compare what a session shows, not which version wrote it
VERSION_KEYS = {"schema_version", "cibench_version"}


def normalize(obj: Any, *, versions: bool = False) -> Any:
    """Drop what changes between runs: timings, ids, hashes, image bytes, addresses; with
    `versions`, the schema and cibench versions too."""
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            if key in VOLATILE_KEYS or (versions and key in VERSION_KEYS):
                out[key] = "<volatile>"
            elif key in ("image/png", "figure_data"):
                out[key] = "<data>" if value else value
            else:
                out[key] = normalize(value, versions=versions)
        return out
    if isinstance(obj, list):
        return [normalize(v, versions=versions) for v in obj]
    if isinstance(obj, str):
        obj = re.sub(r"0x[0-9a-f]{6,}", "0x<addr>", obj)
        obj = re.sub(r"\d+(\.\d+)? s (model|kernel)", "<t> s \\2", obj)
        obj = re.sub(r"sha256 [0-9a-f]{12}…", "sha256 <hash>", obj)
        obj = re.sub(r"run `[^`]+`", "run `<id>`", obj)
        obj = re.sub(r"/tmp/\S+", "<tmp>", obj)
        obj = re.sub(r"run `<id>` · [^\n]*", "run `<id>` · <environment>", obj)
        return obj
    return obj


def check_golden(notebook: Path, golden: Path, *, versions: bool = False) -> None:
    """Compare a session notebook, normalised, with its golden copy (written when missing or
    when CIBENCH_UPDATE_GOLDEN is set)."""
    got = normalize(json.loads(notebook.read_text()), versions=versions)
    update = bool(os.environ.get("CIBENCH_UPDATE_GOLDEN"))
    if update or not golden.exists():
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(got, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
        if not update:
            pytest.fail(f"golden file {golden} was missing; written now, commit it")
    want = json.loads(golden.read_text())
    if got != want:
        diff = _first_difference(want, got)
        pytest.fail(f"{notebook.name} differs from {golden.name} at {diff}")


def _first_difference(want: Any, got: Any, where: str = "") -> str:
    """Where two JSON values first differ, with both sides (for a readable failure)."""
    if isinstance(want, dict) and isinstance(got, dict):
        for key in sorted(set(want) | set(got)):
            if key not in want or key not in got:
                return f"{where}/{key}: only in {'golden' if key in want else 'this run'}"
            if want[key] != got[key]:
                return _first_difference(want[key], got[key], f"{where}/{key}")
    if isinstance(want, list) and isinstance(got, list):
        for i, (a, b) in enumerate(zip(want, got, strict=False)):
            if a != b:
                return _first_difference(a, b, f"{where}/{i}")
        if len(want) != len(got):
            return f"{where}: {len(want)} items in the golden copy, {len(got)} in this run"
    return f"{where}: golden {want!r:.300} != this run {got!r:.300}"
