"""Where a `--jobs 1` oracle e2e run spends the harness's own time: cProfile of `run_benchmark` in
this process (its main thread: the event loop; scoring runs in a thread and is not in it).

    python benchmarks/profile_run.py --work DIR [--before OLD.prof]

Takes the tasks of `overhead.py`'s last run (`benchmarks/overhead.json`, the suite and ground
truth in its `--work DIR`), profiles one oracle e2e run over them at `--jobs 1`, and writes the
top entries by own time (the event loop's waiting included: that is the kernels' time) and the
cumulative time of cibench's per-session and per-step functions. `--before OLD.prof`: a profile
of an older cibench made the same way (`--save` of that checkout's run), shown beside.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import tempfile
import time
from pathlib import Path

from common import BENCH_DIR, table, write_results

from cibench.runner import RunOptions, run_benchmark

WATCHED = ("run_session", "execute", "start", "shutdown", "reseed", "collect_figures",
           "figures_after", "score_session", "ssim_default", "open_workspace", "take")


def where(path: str) -> str:
    for cut in ("site-packages/", "/cibench/"):
        if cut in path:
            return ("cibench/" if cut == "/cibench/" else "") + path.split(cut)[-1]
    return path


def top_own(stats: pstats.Stats, n: int = 8) -> list[list[object]]:
    rows = [(tt, ct, nc, f"`{where(f)}:{line}({fn})`")
            for (f, line, fn), (_, nc, tt, ct, _) in stats.stats.items()]  # type: ignore[attr-defined]
    return [[round(tt, 2), round(ct, 2), nc, name] for tt, ct, nc, name in sorted(rows)[::-1][:n]]


def cibench_cumulative(stats: pstats.Stats) -> list[list[object]]:
    rows = [(ct, nc, f"`{where(f)}:{fn}`")
            for (f, _, fn), (_, nc, _, ct, _) in stats.stats.items()  # type: ignore[attr-defined]
            if "/cibench/" in f and fn in WATCHED]
    return [[round(ct, 2), nc, name] for ct, nc, name in sorted(rows)[::-1]]


def section(label: str, stats: pstats.Stats) -> str:
    return (f"**{label}** ({stats.total_tt:.1f} s profiled)\n\n"  # type: ignore[attr-defined]
            + table(["own s", "cumulative s", "calls", "function"], top_own(stats)) + "\n\n"
            + table(["cumulative s (CPU in the loop)", "calls", "cibench function"],
                    cibench_cumulative(stats)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="overhead.py's --work folder")
    parser.add_argument("--before", type=Path, help="a profile of an older cibench, to show beside")
    parser.add_argument("--save", type=Path, help="also keep this run's profile here")
    args = parser.parse_args()
    chosen = json.loads((BENCH_DIR / "overhead.json").read_text())["tasks"]
    paths = [str(args.work / "cibench" / f"{task}.ipynb") for task in chosen]
    with tempfile.TemporaryDirectory(prefix="cibench-profile-") as tmp:
        opts = RunOptions(paths=paths, models=["oracle"], mode="e2e", out=Path(tmp) / "run",
                          jobs=1, oracle_dir=args.work / "oracle")
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        result = asyncio.run(run_benchmark(opts))
        profile.disable()
        wall = time.perf_counter() - started
    if args.save:
        profile.dump_stats(str(args.save))
    now = pstats.Stats(profile)
    print(f"{len(paths)} tasks, wall {wall:.1f} s under the profiler, {result.errors} errors")
    body = (f"{len(paths)} tasks (overhead.py's), oracle e2e, `--jobs 1`, wall {wall:.1f} s "
            "under the profiler. The event loop's `epoll.poll` is the time spent waiting on the "
            "kernels; everything else in the first table is the harness's own CPU in the loop.\n\n")
    if args.before:
        body += section(f"Before ({args.before.name})", pstats.Stats(str(args.before))) + "\n\n"
    body += section("Now", now)
    print(body)
    write_results("profile", "Profile of a --jobs 1 run", body,
                  {"tasks": len(paths), "wall_s": round(wall, 2), "errors": result.errors},
                  quick=False)


if __name__ == "__main__":
    main()
