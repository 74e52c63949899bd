"""The default --jobs: from the cores, the memory and whether the model is remote."""

from __future__ import annotations

import pytest

from cibench.concurrency import MAX_DEFAULT_JOBS, SESSION_MB, default_jobs, is_remote


@pytest.mark.parametrize("models, cores, memory, jobs", [
    (["oracle"], 2, 24_000, 2),  # kernel-bound: a session per core
    (["answers:gen.json"], 16, 64_000, 16),
    (["openai/gpt-4o"], 2, 24_000, 8),  # latency-bound: several per core
    (["oracle", "openai/gpt-4o"], 2, 24_000, 8),  # a remote model among them
    (["openai/gpt-4o"], 64, 1_000_000, MAX_DEFAULT_JOBS),
    (["local"], 8, 24_000, 2),  # the embedded model's two decoding slots
    (["openai/gpt-4o"], 16, 8 * SESSION_MB, 6),  # memory bounds it: 80% of 4 GiB
    (["oracle"], 4, 256, 1),  # never below one
])
def test_default_jobs(models: list[str], cores: int, memory: int, jobs: int) -> None:
    got, why = default_jobs(models, cores=cores, memory_mb=memory)
    assert got == jobs and why


def test_remote_models() -> None:
    assert is_remote("openai/gpt-4o") and is_remote("anthropic/claude-3-5-sonnet")
    assert not any(map(is_remote, ["oracle", "local", "answers:x.jsonl", "local:qwen"]))
