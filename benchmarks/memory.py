"""(c) Memory per session in flight.

    python benchmarks/memory.py [--sessions 1 8 32 64] [--latency 0.5]
    python benchmarks/memory.py --quick            # 1 and 4 sessions

For each N: N copies of the 5-step task of throughput.py, run at `--jobs N` against the
fixed-latency server (so all N sessions are in flight together), while the resident memory (RSS)
of the cibench process and all its descendants (kernels, their children) is sampled every
0.2 s. Reported: peak total, peak of the cibench process alone, most kernels alive at once,
peak total / N, and the marginal cost of a session ((peak N - peak 1) / (N - 1)). RSS counts
pages shared between processes (the kernels' common libraries) in each of them, so the totals
overstate what the machine really gives up; the marginal figure is the one to plan with.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from common import (
    REPO,
    LatencyServer,
    cibench_cmd,
    make_suite,
    model_args,
    model_env,
    summary_row,
    table,
    validate_suite,
    write_results,
)

try:
    import psutil
except ImportError:  # read /proc instead
    psutil = None

PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024


def _proc_tree(root: int) -> list[tuple[int, int, str]]:
    """(pid, rss bytes, command line) of `root` and all its descendants."""
    if psutil is not None:
        try:
            top = psutil.Process(root)
            procs = [top, *top.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
        out = []
        for p in procs:
            try:
                out.append((p.pid, p.memory_info().rss, " ".join(p.cmdline())))
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return out
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
        out.append((pid, rss, cmd))
    return out


class Sampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak_total = self.peak_self = 0
        self.peak_kernels = self.samples = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            tree = _proc_tree(self.pid)
            if tree:
                self.samples += 1
                self.peak_total = max(self.peak_total, sum(rss for _, rss, _ in tree))
                self.peak_self = max(self.peak_self,
                                     next((rss for pid, rss, _ in tree if pid == self.pid), 0))
                self.peak_kernels = max(self.peak_kernels,
                                        sum("ipykernel_launcher" in cmd for *_, cmd in tree))
            self.done.wait(self.every)


def measure(paths: list[Path], oracle: Path, out: Path, server: LatencyServer) -> dict:
    n = len(paths)
    cmd = cibench_cmd("-q", "run", *paths, *model_args(server), "--jobs", str(n), "--out", out,
                      "--oracle-dir", oracle, "--no-report")
    with (out.parent / f"{out.name}.log").open("w") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                                env=model_env())
        sampler = Sampler(proc.pid)
        sampler.start()
        status = proc.wait()
        wall = time.perf_counter() - started
        sampler.done.set()
        sampler.join()
    row = summary_row(out) if (out / "summary.json").exists() else {"errors": None}
    return {"sessions": n, "wall_s": round(wall, 2), "exit": status,
            "peak_total_mib": round(sampler.peak_total / MIB, 1),
            "peak_cibench_process_mib": round(sampler.peak_self / MIB, 1),
            "peak_kernels_alive": sampler.peak_kernels, "samples": sampler.samples,
            "peak_total_per_session_mib": round(sampler.peak_total / MIB / n, 1),
            "errors": row["errors"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per model call")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 and 4 sessions")
    parser.add_argument("--work", type=Path, help="keep the suite and run folders here")
    args = parser.parse_args()
    if args.quick:
        args.sessions = [1, 4]
    with tempfile.TemporaryDirectory(prefix="cibench-bench-") as tmp:
        work = args.work or Path(tmp)
        oracle = work / "oracle"
        suite = make_suite(work / "suites", max(args.sessions), args.steps, "latency")
        truth_s = validate_suite(suite, oracle, work / "validate.log")
        print(f"ground truth built in {truth_s:.1f} s (not counted)")
        paths = sorted(suite.glob("*.ipynb"))
        rows = []
        with LatencyServer(args.latency) as server:
            for n in args.sessions:
                rows.append(measure(paths[:n], oracle, work / f"run-n{n}", server))
                print(f"{n} in flight: peak {rows[-1]['peak_total_mib']} MiB")
    one = next((r for r in rows if r["sessions"] == 1), None)
    lines = []
    for r in rows:
        r["marginal_per_session_mib"] = (
            round((r["peak_total_mib"] - one["peak_total_mib"]) / (r["sessions"] - 1), 1)
            if one is not None and r["sessions"] > 1 else None)
        lines.append([r["sessions"], r["peak_total_mib"], r["peak_cibench_process_mib"],
                      r["peak_kernels_alive"], r["peak_total_per_session_mib"],
                      r["marginal_per_session_mib"], r["wall_s"], r["errors"]])
    body = table(["sessions in flight", "peak RSS total MiB", "peak RSS cibench process MiB",
                  "kernels alive (peak)", "peak total / session MiB", "marginal / session MiB",
                  "wall s", "sessions in error"], lines)
    print(body)
    explain = (f"\n\nEach row: N copies of a {args.steps}-step task at `--jobs N` with a "
               f"{args.latency} s model (the scripted server), `--no-report`; RSS of the cibench "
               "process and all its descendants summed, sampled every 0.2 s "
               f"({'psutil' if psutil is not None else '/proc'}); pages shared between processes "
               "count in each of them. Marginal = (peak N − peak 1) / (N − 1).")
    write_results("memory", "(c) Memory per session in flight", body + explain,
                  {"latency_s": args.latency, "steps": args.steps, "runs": rows,
                   "sampler": "psutil" if psutil is not None else "/proc"}, args.quick)


if __name__ == "__main__":
    main()
