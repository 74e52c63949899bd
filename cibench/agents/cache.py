"""The response cache: every model answer is kept in the run folder before it is used.

`<run>/<model>/responses.jsonl`, one JSON object a line: `key` (sha256 of the model name, the call
parameters and the messages), the normalized reply (`content`, `tool_calls`, `finish_reason`), its
usage as first paid for, and when. A line is written and fsynced before the reply goes back to the
session, so a run killed at any moment resumes (`cibench run` again, same `--out`) without paying
for any call twice. The key never covers the API key or the API base (the embedded model's port
changes between runs); a torn last line from a kill is skipped.

Not litellm's `Cache(type="local")`: in litellm 1.106 it crashes on its first hit unless
fastapi, orjson and soundfile are installed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from ..jsonl_store import JsonlStore

log = logging.getLogger(__name__)

CACHE_FILE = "responses.jsonl"
CACHE_VERSION = 1
#: call parameters that never go into the key (secrets, transport details)
_UNKEYED = {"api_key", "api_base", "base_url", "timeout", "request_timeout", "max_retries",
            "num_retries", "extra_headers", "headers", "drop_params"}


def cache_key(model: str, params: dict[str, Any], messages: list[dict[str, Any]]) -> str:
    payload = {"v": CACHE_VERSION, "model": model,
               "params": {k: v for k, v in sorted(params.items()) if k not in _UNKEYED},
               "messages": messages}
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _usable(entry: Any) -> bool:
    """A cache line as `put` writes it (the reply inside came from a model: check its shape)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
        return False
    reply, usage = entry.get("reply"), entry.get("usage", {})
    return (isinstance(reply, dict) and isinstance(reply.get("content", ""), str)
            and isinstance(reply.get("tool_calls", []), list)
            and all(isinstance(c, dict) for c in reply.get("tool_calls", []))
            and isinstance(usage, dict))


class ResponseCache:
    """The model replies of one run folder and model (see the module docstring)."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / CACHE_FILE
        self._store = JsonlStore(self.path, valid=_usable)
        log.info("response cache %s: %d entries", self.path, len(self._store))

    def __len__(self) -> int:
        return len(self._store)

    def get(self, key: str) -> dict[str, Any] | None:
        return self._store.get(key)

    def put(self, key: str, model: str, reply: dict[str, Any], usage: dict[str, Any]) -> None:
        self._store.put({"key": key, "model": model,
                         "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                         "reply": reply, "usage": usage})
