"""How many sessions to keep in flight (`--jobs`) when the user does not say.

A session's time goes to its kernel (CPU) and to its model (waiting). With models that answer
here and use the CPU themselves (the oracle, replayed answers, the embedded model) sessions are
CPU-bound: one per core. A remote model is latency-bound: most of a session is spent waiting for
the API, so several sessions per core keep the cores busy. Either way memory bounds it: a live
kernel with pandas, matplotlib and a dataset resident takes a few hundred MB.

    jobs, why = default_jobs(["openai/gpt-4o"])   # (8, "2 cores × 4, remote model ...")
"""

from __future__ import annotations

import logging
import os

from .limits import total_memory_mb

log = logging.getLogger(__name__)

#: models that run in this process or on this machine's CPU (not latency-bound)
LOCAL_MODELS = ("oracle", "local")
LOCAL_PREFIXES = ("answers:", "local:")
SESSIONS_PER_CORE_REMOTE = 4  # a session waiting on an API uses a core ~1/4 of the time or less
MAX_DEFAULT_JOBS = 32  # more in flight only with an explicit --jobs (and a rate limit to match)
SESSION_MB = 512  # resident memory planned per session in flight (kernel + its data + harness)
EMBEDDED_SLOTS = 2  # the embedded model decodes two sessions at once (local_model.py)


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def is_remote(model: str) -> bool:
    return model not in LOCAL_MODELS and not model.startswith(LOCAL_PREFIXES)


def default_jobs(models: list[str], cores: int | None = None,
                 memory_mb: int | None = None) -> tuple[int, str]:
    """`--jobs` for these models on this machine, and a short reason to show the user."""
    cores = cores or usable_cores()
    memory_mb = memory_mb if memory_mb is not None else total_memory_mb()
    if any(m == "local" or m.startswith("local:") for m in models):
        jobs, why = min(cores, EMBEDDED_SLOTS), "the embedded model decodes 2 sessions at once"
    elif any(is_remote(m) for m in models):
        jobs = min(cores * SESSIONS_PER_CORE_REMOTE, MAX_DEFAULT_JOBS)
        why = (f"{cores} cores × {SESSIONS_PER_CORE_REMOTE}: a remote model is latency-bound, "
               "so more sessions than cores")
    else:
        jobs, why = cores, f"{cores} cores: sessions are kernel-bound"
    if memory_mb:
        fit = max(1, int(memory_mb * 0.8) // SESSION_MB)
        if fit < jobs:
            jobs, why = fit, f"{memory_mb} MiB of memory fits {fit} sessions of ~{SESSION_MB} MiB"
    return max(1, jobs), why
