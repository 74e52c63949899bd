"""Benchmark: kernel start, per-cell overhead, and oracle runs of a suite (run on demand).

    python scripts/bench_run.py [SUITE] [--repeat 3]

Prints a small table; results measured on the project's machines are written down in
docs/sandbox.md (kernel) and the issue notes. Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from cibench.kernel import KernelSession, startup_code
from cibench.runner import RunOptions, run_benchmark


async def kernel_numbers(repeat: int) -> dict[str, float]:
    starts, cells, floods = [], [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            async with KernelSession(Path(tmp), startup_code=startup_code()) as kernel:
                starts.append(time.perf_counter() - t0)
                t1 = time.perf_counter()
                for _ in range(50):
                    await kernel.execute("1 + 1")
                cells.append((time.perf_counter() - t1) / 50)
        with tempfile.TemporaryDirectory() as tmp:
            async with KernelSession(Path(tmp), startup_code=startup_code()) as kernel:
                t2 = time.perf_counter()
                await kernel.execute("print('x' * 50_000_000)")
                floods.append(time.perf_counter() - t2)
    return {"kernel start s": statistics.median(starts),
            "trivial cell ms": 1000 * statistics.median(cells),
            "50 MB print (capped) s": statistics.median(floods)}


async def suite_numbers(suite: str, repeat: int) -> dict[str, float]:
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        oracle = Path(tmp) / "oracle"
        await run_benchmark(RunOptions(paths=[suite], models=["oracle"], out=Path(tmp) / "warm",
                                       oracle_dir=oracle))  # builds ground truth once
        for mode in ("e2e", "oracle"):
            for jobs in (1, 2):
                times = []
                for i in range(repeat):
                    t0 = time.perf_counter()
                    await run_benchmark(RunOptions(paths=[suite], models=["oracle"], mode=mode,
                                                   jobs=jobs, oracle_dir=oracle,
                                                   out=Path(tmp) / f"{mode}-{jobs}-{i}"))
                    times.append(time.perf_counter() - t0)
                out[f"{mode} run, --jobs {jobs}, s"] = statistics.median(times)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", nargs="?", default="notebooks/demo")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    numbers = asyncio.run(kernel_numbers(args.repeat))
    numbers.update(asyncio.run(suite_numbers(args.suite, args.repeat)))
    for name, value in numbers.items():
        print(f"{name:32s} {value:8.3f}")


if __name__ == "__main__":
    main()
