"""The worker side of `--executor ray` (ray_executor.py is the client side): `SessionHost`, the
Ray actor that runs sessions in a worker process, and what it does with what it is sent (a task
folder unpacked once per node, a response-cache seed, an answers file)."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from .agents.base import make_agent
from .agents.cache import CACHE_FILE
from .errors import CibenchError
from .executor import SessionJob
from .jsonl_store import JsonlStore
from .pipeline import run_scored

_TASKS_DIR = "cibench-ray-tasks"  # where workers unpack shipped task folders (in $TMPDIR)


def _unpack_folder(packed: bytes, digest: str) -> Path:
    """The shipped task folder, unpacked once per node (content-addressed, atomic rename)."""
    root = Path(tempfile.gettempdir()) / _TASKS_DIR
    target = root / digest
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=root))
    try:
        with tarfile.open(fileobj=io.BytesIO(packed), mode="r:gz") as tar:
            tar.extractall(staging, filter="data")
        with contextlib.suppress(OSError):  # another worker may have won the race
            os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


async def _worker_session(job: SessionJob, folder: Path | None,
                          cache: tuple[str, frozenset[str]] | None,
                          answers: tuple[bytes, str, str] | None) -> dict[str, Any]:
    """One session in this worker: `folder` holds the task's shipped `data/`, `cache` is the
    seed of the response cache (its JSONL text and keys; None: no cache), `answers` the shipped
    answers file (bytes, file name, model name)."""
    task, model = job.task, job.model
    if folder is not None:
        task = dataclasses.replace(task, path=folder / task.path.name)
    with tempfile.TemporaryDirectory(prefix="cibench-ray-session-") as tmp:
        if answers is not None:  # the shipped answers file, under its own name
            data, filename, name = answers
            Path(tmp, "answers").mkdir()
            Path(tmp, "answers", filename).write_bytes(data)
            model = f"answers:{Path(tmp, 'answers', filename)}@{name}"
        options = dataclasses.replace(job.agent_options, cache_dir=None, cache=cache is not None)
        if cache is not None:
            options = dataclasses.replace(options, cache_dir=tmp)
            Path(tmp, CACHE_FILE).write_text(cache[0], encoding="utf-8")
        result: dict[str, Any] = {"host": os.uname().nodename}
        try:
            async with make_agent(model, options) as agent:
                record = await run_scored(task, agent, job.truth, job.config, job.settings)
            result["record"] = record.model_dump(mode="json")
        except CibenchError as exc:  # e.g. the model's server unreachable from this worker
            result["error"] = str(exc)
        if cache is not None:
            store = JsonlStore(Path(tmp, CACHE_FILE))
            result["cache"] = [e for k, e in store.entries.items() if k not in cache[1]]
    return result


class SessionHost:
    """A Ray actor (one worker process) that runs up to `slots` sessions at once, each one
    actor task: a node pays for importing Ray, cibench and litellm once per host, not once per
    session (8 single-session workers importing litellm took 20 s of a 2-core machine).

    What all sessions share (a task folder, the cache seed, an answers file) comes as a boxed
    object ref (`[ref]`, which Ray does not resolve) and is fetched once per host."""

    def __init__(self) -> None:
        self._shared: dict[str, Any] = {}

    def warm(self, remote_model: bool) -> str:
        """Import now what sessions will need (litellm alone is ~2 s of CPU), so the first
        sessions do not wait for it; returns the node's name."""
        if remote_model:
            from .agents.llm import import_litellm
            import_litellm()
        return os.uname().nodename

    async def _fetch(self, boxed: list[Any] | None, prepare: Any = None) -> Any:
        if boxed is None:
            return None
        key = boxed[0].hex()
        if key not in self._shared:
            value = await boxed[0]
            self._shared[key] = prepare(value) if prepare is not None else value
        return self._shared[key]

    async def run(self, job: SessionJob, folder: list[Any] | None, cache: list[Any] | None,
                  answers: list[Any] | None) -> dict[str, Any]:
        return await _worker_session(job, await self._fetch(folder, _unpack_shipped),
                                     await self._fetch(cache, _seed_text),
                                     await self._fetch(answers))


def _unpack_shipped(shipped: tuple[bytes, str]) -> Path:
    return _unpack_folder(*shipped)


def _seed_text(entries: list[dict[str, Any]]) -> tuple[str, frozenset[str]]:
    """A response cache's entries as the JSONL a session's cache starts from, and their keys."""
    text = "".join(json.dumps(e, ensure_ascii=False, default=str) + "\n" for e in entries)
    return text, frozenset(e["key"] for e in entries)
