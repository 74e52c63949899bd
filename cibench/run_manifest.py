"""A run folder's own files besides the sessions: `OUT/run.json` (the manifest: what ran, with
which settings; a resumed run must keep the RESUME_KEYS), `OUT/.lock` (one `cibench run` per
folder at a time) and the sha256 of each task's ground truth its sessions were scored against
(`run.json` `ground_truth`, which `cibench score` checks)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import RunDirError
from .fsutil import atomic_write_json
from .groundtruth import environment_fingerprint

#: each artifact has its own version (bumping one never invalidates the others)
MANIFEST_SCHEMA_VERSION = 1  # OUT/run.json

# settings that must not change when a run folder is resumed
RESUME_KEYS = ("mode", "attempts", "scoring", "timeout")


def new_run_id() -> str:
    return time.strftime("%Y-%m-%dT%H-%M-%S", time.gmtime())


def check_manifest(out: Path, run_id: str, wanted: dict[str, Any], models: list[str],
                   fresh: dict[str, Any]) -> str:
    """Create or verify OUT/run.json; returns the run id to use. `wanted`: the settings a
    resumed run must share (RESUME_KEYS); `fresh`: what else a new manifest records."""
    path = out / "run.json"
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RunDirError(f"unreadable run manifest: {exc}", path=path) from exc
        if not isinstance(old, dict):
            raise RunDirError("run manifest is not a JSON object", path=path,
                              hint="use another --out")
        if old.get("schema_version") != MANIFEST_SCHEMA_VERSION:
            raise RunDirError(f"run manifest version {old.get('schema_version')!r}, this cibench "
                              f"writes version {MANIFEST_SCHEMA_VERSION}", path=path,
                              hint="use another --out (a run folder is resumed only by the "
                                   "cibench version that made it)")
        for key in RESUME_KEYS:
            if old.get(key) != wanted[key]:
                raise RunDirError(f"this folder holds a run with {key}={old.get(key)!r}, not "
                                  f"{wanted[key]!r}", path=out,
                                  hint="use another --out or the same settings to resume")
        models = sorted(set(old.get("models", [])) | set(models))
        atomic_write_json(path, {**old, "models": models, "resumed": time.time()})
        return str(old.get("run_id", run_id))
    atomic_write_json(path, {"schema_version": MANIFEST_SCHEMA_VERSION, "run_id": run_id,
                             "cibench_version": __version__, "models": models, **fresh,
                             "environment": environment_fingerprint(), **wanted})
    return run_id


@contextlib.contextmanager
def run_lock(out: Path) -> Iterator[None]:
    """One `cibench run` per run folder at a time (released by the OS even on SIGKILL)."""
    fd = os.open(out / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunDirError("another `cibench run` is using this folder", path=out,
                              hint="wait for it, or use another --out") from None
        yield
    finally:
        os.close(fd)


def record_truth_hashes(out: Path, hashes: dict[str, str | None]) -> None:
    """run.json `ground_truth`: the sha256 of each task's ground-truth file its sessions were
    scored against; `cibench score` refuses ground truth that changed since."""
    path = out / "run.json"
    manifest = json.loads(path.read_text())
    recorded = manifest.get("ground_truth")
    recorded = dict(recorded) if isinstance(recorded, dict) else {}
    recorded.update({k: v for k, v in hashes.items() if v})
    atomic_write_json(path, {**manifest, "ground_truth": dict(sorted(recorded.items()))})


def recorded_truth_hashes(out: Path) -> dict[str, str]:
    path = out / "run.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise RunDirError(f"unreadable run manifest: {exc}", path=path) from exc
    recorded = manifest.get("ground_truth") if isinstance(manifest, dict) else None
    return {k: v for k, v in recorded.items() if isinstance(v, str)} \
        if isinstance(recorded, dict) else {}


