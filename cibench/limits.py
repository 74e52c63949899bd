"""What a kernel may use and see: its environment (secrets scrubbed) and its resource limits.

`scrubbed_environment` is the environment every kernel (and every fresh check process) starts
with; `KernelLimits` becomes a `prlimit` prefix on the kernel's command line. cibench.kernel
re-exports both.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass

log = logging.getLogger(__name__)

SECRET_RE = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$|^AWS_|^AZURE_|_API_BASE$",
                       re.IGNORECASE)
DROPPED_ENV = {"MPLBACKEND", "JPY_SESSION_NAME", "JUPYTER_TOKEN", "PYTEST_CURRENT_TEST"}

MIN_SECRET_CHARS = 8  # shorter values ("no-key", "local") are not matched by value


def scrubbed_environment(base: dict[str, str] | None = None,
                         secret_names: tuple[str, ...] | list[str] = ()) -> dict[str, str]:
    """The kernel's environment: the parent's minus secrets and variables that change behaviour.

    Dropped: variables named like secrets, the variables named in `secret_names` (the run's
    `--api-key-env`, `--vis-judge-key-env`, whatever their names), any variable whose value
    holds the value of one of those (a key copied under an innocent name), and any variable
    whose value equals that of a secret-named one."""
    env = dict(os.environ if base is None else base)
    named = set(secret_names)
    keys = {v for k, v in env.items() if k in named and len(v) >= MIN_SECRET_CHARS}
    # other secret-named values are matched exactly (`SOME_TOKEN=/usr/local` must not take PATH)
    exact = {v for k, v in env.items() if SECRET_RE.search(k) and len(v) >= MIN_SECRET_CHARS}
    for name in list(env):
        value = env[name]
        if name in DROPPED_ENV or name in named or SECRET_RE.search(name) \
                or name.startswith("LITELLM") or value in exact \
                or any(key in value for key in keys):
            del env[name]
    env["PYTHONHASHSEED"] = "0"
    # few malloc arenas: each thread's arena reserves 64 MiB of address space, which would make
    # an address-space limit depend on the number of cores (OpenBLAS starts one thread per core)
    env.setdefault("MALLOC_ARENA_MAX", "2")
    env["CIBENCH_KERNEL"] = "1"
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


DEFAULT_CPU_SECONDS = 3600  # per kernel process lifetime; a restart starts a new count
DEFAULT_FILE_SIZE_MB = 1024  # largest file the kernel may write
DEFAULT_PROCESSES = 512  # processes and threads of the session's own uid (root is exempt)
DEFAULT_OPEN_FILES = 4096
MIN_MEMORY_MB = 2048  # measured: 1024 MiB can hang or kill the usual imports
SMALLEST_MEMORY_MB = 768  # measured: 512 MiB cannot start the kernel; a smaller limit is refused


def total_memory_mb() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError, AttributeError):
        return None


def default_memory_mb(jobs: int = 1) -> int:
    """A safe share of the machine: 80% of physical memory split over the kernels running at
    once (an address-space limit bounds resident memory too, so together they cannot exhaust
    RAM), and never below MIN_MEMORY_MB."""
    total = total_memory_mb()
    if total is None:
        return 4 * MIN_MEMORY_MB
    return max(MIN_MEMORY_MB, int(total * 0.8) // max(1, jobs))


@dataclass(frozen=True)
class KernelLimits:
    """Resource limits for the kernel process (None = unlimited)."""

    memory_mb: int | None = None
    cpu_seconds: int | None = None
    file_size_mb: int | None = None
    processes: int | None = None
    open_files: int | None = None

    @classmethod
    def default(cls, jobs: int = 1, memory_mb: int | None = -1) -> KernelLimits:
        """The limits `cibench run` uses unless told otherwise (see docs/sandbox.md)."""
        if memory_mb == -1:
            memory_mb = default_memory_mb(jobs)
        return cls(memory_mb=memory_mb or None, cpu_seconds=DEFAULT_CPU_SECONDS,
                   file_size_mb=DEFAULT_FILE_SIZE_MB, processes=DEFAULT_PROCESSES,
                   open_files=DEFAULT_OPEN_FILES)

    def prlimit_prefix(self) -> list[str]:
        args = []
        if self.memory_mb:
            args.append(f"--as={self.memory_mb * 1024 * 1024}")
        if self.cpu_seconds:
            args.append(f"--cpu={self.cpu_seconds}")
        if self.file_size_mb:
            args.append(f"--fsize={self.file_size_mb * 1024 * 1024}")
        if self.processes:
            args.append(f"--nproc={self.processes}")
        if self.open_files:
            args.append(f"--nofile={self.open_files}")
        if not args:
            return []
        prlimit = shutil.which("prlimit")
        if prlimit is None:
            log.warning("prlimit not found; kernel runs without resource limits")
            return []
        return [prlimit, *args, "--"]


