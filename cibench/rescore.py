"""`cibench score`: recompute every score of a run folder from its notebooks and the stored ground
truth (no model, no kernel), through the same last steps as a run (`pipeline.rescore_record`:
score → judge → write). Everything is read and checked before anything is rewritten."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from .errors import RunDirError, SchemaVersionError
from .fsutil import atomic_write_json
from .groundtruth import GroundTruth, load_truth, truth_path, truth_sha256
from .notebook import read_session
from .pipeline import rescore_record
from .records import SessionRecord, VisJudgeParams
from .run_manifest import recorded_truth_hashes
from .rundir import session_paths
from .summary import RunResult, summarize

log = logging.getLogger(__name__)


def _is_session_file(path: Path) -> bool:
    """Whether a file that failed to read as a session is (or was) one: anything that is not a
    readable notebook without cibench run metadata (a truncated file counts as a session)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    meta = data.get("metadata", {}) if isinstance(data, dict) else None
    if not isinstance(meta, dict):
        return True
    cibench = meta.get("cibench")
    return isinstance(cibench, dict) and "run" in cibench


def _checked_truth(record: SessionRecord, path: Path, oracle_dir: Path,
                   recorded: dict[str, str]) -> GroundTruth:
    """The ground truth to re-score a session against, refused (RunDirError naming the file)
    when it is missing, for another task version, changed since the run scored it, or has
    another number of steps than the notebook."""
    task_id = record.task.id
    truth = load_truth(oracle_dir, task_id)
    if truth is None or truth.source_sha256 != record.task.sha256:
        raise RunDirError(f"no ground truth for {task_id} matching the task "
                          "version this session ran", path=oracle_dir,
                          hint="pass --oracle-dir, or run `cibench validate` on the task")
    now = truth_sha256(oracle_dir, task_id)
    if task_id in recorded and now != recorded[task_id]:
        raise RunDirError(f"ground truth changed since the run scored it (sha256 "
                          f"{recorded[task_id][:12]}… in run.json, {str(now)[:12]}… now)",
                          path=truth_path(oracle_dir, task_id),
                          hint="restore the file the run used, or run the sessions again")
    if len(record.steps) != len(truth.steps):
        raise RunDirError(f"the notebook holds {len(record.steps)} steps, the task "
                          f"{len(truth.steps)}: cells were removed or added", path=path,
                          hint="re-run the session (delete the notebook, run again)")
    return truth


async def rescore(out: Path, oracle_dir: Path, scoring: str | None = None,
                  vis_judge: dict[str, Any] | None = None) -> RunResult:
    """Recompute every score of a run folder from its notebooks and stored ground truth.

    `vis_judge` (JudgeSettings.as_params()) adds or replaces the run's vision judge; without it
    the judge recorded with each session (if any) is asked again, from its cache in the folder."""
    out = Path(out)
    if not out.is_dir():
        raise RunDirError("no such run folder", path=out)
    recorded = recorded_truth_hashes(out)
    # everything is read and checked before anything is rewritten: a refusal leaves the folder
    # as it was (an unreadable notebook would otherwise silently drop out of summary.json)
    loaded: list[tuple[Path, SessionRecord, GroundTruth | None]] = []
    for path in session_paths(out):
        try:
            record = read_session(path)
        except SchemaVersionError:
            raise  # one line: re-run it
        except RunDirError as exc:
            if not _is_session_file(path):
                log.warning("skipped: %s", exc)  # a task or scratch notebook, not a session
                continue
            raise RunDirError(f"a session notebook is unreadable ({exc.message}); re-scoring "
                              "would drop it from summary.json", path=path,
                              hint="restore the file, or delete it and run the same "
                                   "`cibench run` again to redo that session") from exc
        if scoring:
            record.run.scoring = scoring
        if vis_judge:
            record.run.params.vis_judge = VisJudgeParams.model_validate(vis_judge)
        truth = _checked_truth(record, path, oracle_dir, recorded) \
            if record.status == "complete" else None
        loaded.append((path, record, truth))
    records = []
    for path, record, truth in loaded:
        if truth is not None:
            await rescore_record(record, truth, path, out)
        records.append(record)
    if not records:
        raise RunDirError("no session notebooks found", path=out)
    if scoring:
        manifest = out / "run.json"
        if manifest.is_file():
            data = json.loads(manifest.read_text())
            data["scoring"] = scoring
            atomic_write_json(manifest, data)
    summary = summarize(records)
    previous = out / "summary.json"
    if previous.is_file():  # keep what the run (or the last score) said
        kept = out / "summary.previous.json"
        os.replace(previous, kept)
        log.warning("replaced %s; the previous summary is kept as %s", previous, kept)
    atomic_write_json(out / "summary.json", summary)
    return RunResult(out=out, summary=summary,
                     errors=sum(1 for r in records if r.status != "complete"))
