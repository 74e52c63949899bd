"""(a) Harness overhead against the floor, on the English CIBench generation tasks that validate.

    python benchmarks/overhead.py [--suite DIR] [--quick] [--work DIR]

1. The suite: `--suite DIR` (a folder of task notebooks), else the English CIBench sources in
   ../shared/datasets/cibench imported with `cibench import cibench` and their
   `cibench_generation/` split. Tasks waiting for assets are left out; the rest go through
   `cibench validate` (ground truth built here, not counted) and those that validate are kept.
   `--quick`: the first 3 that validate (of the first 6 tried).
2. The bare loop: per task a fresh kernel of cibench's own kernelspec (kernels/cibench-python,
   run by the kernel environment's Python, cibench's scrubbed kernel environment, the task's
   data/ copied into its working directory) driven by nbclient, executing the cells the oracle
   e2e run executes: the task's setup cells, each step's reference as the oracle agent sends it,
   and the step's check cells. First comes the kernelspec's startup.py (seaborn/NLTK offline
   assets; not counted in the floor). Measured: the loop's wall time and the floor = the sum over
   those cells of execute_input -> execute_reply, from the messages' header dates.
3. `cibench -q run TASKS --model oracle --mode e2e --jobs 1`, then `--jobs 2` (fresh --out each,
   the same --oracle-dir, --no-report, default containment), by wall clock.
Ratios: jobs 1 / floor (target <= 1.25) and jobs 2 / bare wall (target < 1).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
from common import REPO, run_cibench, summary_row, table, write_results
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from cibench.groundtruth import REFERENCE_TIMEOUT
from cibench.kernel import KERNEL_NAME, KernelSession, startup_code
from cibench.kernel_env import assets_prelude, kernel_python
from cibench.limits import scrubbed_environment
from cibench.resources import kernels_dir
from cibench.task import Task, load_tasks

DATASET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cibench"  # ../shared
SPLIT = "cibench_generation"
QUICK_TASKS, QUICK_TRIED = 3, 6
OK_LINE = re.compile(r"^ok (\S+): (\d+) steps", re.M)


# ------------------------------------------------------------------------------ suite

def find_suite(args: argparse.Namespace, work: Path) -> Path:
    if args.suite is not None:
        if not args.suite.is_dir():
            sys.exit(f"overhead: --suite {args.suite} is not a folder of task notebooks")
        return args.suite
    if not DATASET.is_dir():
        sys.exit(f"overhead: no suite: pass --suite DIR (no CIBench sources at {DATASET})")
    out = work / "cibench"
    run_cibench(["-q", "import", "cibench", DATASET, "--out", out], work / "import.log")
    return out / SPLIT


def validated_tasks(suite: Path, oracle: Path, work: Path,
                    quick: bool) -> tuple[list[Task], int, int]:
    """The tasks of `suite` that validate (ground truth built into `oracle`), how many were
    tried (those not waiting for assets) and how many the suite holds."""
    every = load_tasks([suite])
    ready = [t for t in every if not t.missing_assets()]
    tried = ready[:QUICK_TRIED] if quick else ready
    if not tried:
        sys.exit(f"overhead: no task in {suite} has its data files")
    seconds, _ = run_cibench(["-q", "validate", *(t.path for t in tried), "--oracle-dir", oracle],
                             work / "validate.log", check=False)
    ok = set(OK_LINE.findall((work / "validate.log").read_text()))
    kept = [t for t in tried if (t.id, str(len(t.steps))) in ok]
    print(f"{len(kept)} of {len(tried)} tasks validate (ground truth built in {seconds:.1f} s, "
          "not counted)")
    return (kept[:QUICK_TASKS] if quick else kept), len(tried), len(every)


# ------------------------------------------------------------------------------ bare loop

class KernelEnvManager(AsyncKernelManager):
    """cibench's kernelspec run by the kernel environment's Python, as cibench runs it."""

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if cmd and cmd[0] in ("python", sys.executable):
            cmd[0] = kernel_python()
        return cmd


def bare_cells(task: Task) -> list[str]:
    """The cells of the oracle e2e session, in its order: setup, then per step the reference
    (the code the oracle agent sends) and the step's check cells."""
    cells = list(task.setup)
    for step in task.steps:
        cells.append(step.reference)
        cells.extend(step.checks)
    return cells


def _when(stamp: Any) -> dt.datetime:
    return stamp if isinstance(stamp, dt.datetime) else dt.datetime.fromisoformat(
        str(stamp).replace("Z", "+00:00"))


async def bare_task(task: Task, top: Path) -> dict[str, Any]:
    work = top / task.id.replace("/", "__")
    work.mkdir(parents=True)
    if task.data_dir.is_dir():
        shutil.copytree(task.data_dir, work / "data")
    startup = assets_prelude() + (kernels_dir() / KERNEL_NAME / "startup.py").read_text()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code) for code in [startup, *bare_cells(task)]]
    ipc = Path(tempfile.mkdtemp(prefix="bare-ipc-"))  # ipc transport, as cibench's kernels
    km = KernelEnvManager(kernel_name=KERNEL_NAME, transport="ipc", ip=str(ipc / "kernel"),
                          connection_file=str(ipc / "connection.json"),
                          kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels_dir())]))
    client = NotebookClient(nb, km=km, timeout=REFERENCE_TIMEOUT, allow_errors=True,
                            record_timing=True, resources={"metadata": {"path": str(work)}})
    started = time.perf_counter()
    try:
        await client.async_execute(env=scrubbed_environment())
    finally:  # nbclient leaves a kernel manager it was given running
        if km.has_kernel:
            await km.shutdown_kernel(now=True)
        shutil.rmtree(ipc, ignore_errors=True)
    wall = time.perf_counter() - started
    floor, errors = 0.0, 0
    for cell in nb.cells[1:]:  # the startup cell is not one of the task's cells
        timing = cell.metadata.get("execution", {})
        floor += (_when(timing["shell.execute_reply"])
                  - _when(timing["iopub.execute_input"])).total_seconds()
        errors += any(o.get("output_type") == "error" for o in cell.outputs)
    return {"task": task.id, "cells": len(nb.cells) - 1, "wall_s": round(wall, 3),
            "floor_s": round(floor, 3), "cells_in_error": errors}


async def bare_loop(tasks: list[Task], top: Path) -> tuple[float, list[dict[str, Any]]]:
    started = time.perf_counter()
    rows = [await bare_task(task, top) for task in tasks]
    return time.perf_counter() - started, rows


# ------------------------------------------------------------------------------ context

async def kernel_numbers(repeat: int = 3) -> dict[str, float]:
    """A cibench kernel's start (startup code and output guard
    included, no sandbox) and a trivial cell's round trip, medians."""
    starts, cells = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            async with KernelSession(Path(tmp), startup_code=startup_code()) as kernel:
                starts.append(time.perf_counter() - t0)
                t1 = time.perf_counter()
                for _ in range(50):
                    await kernel.execute("1 + 1")
                cells.append((time.perf_counter() - t1) / 50)
    return {"kernel_start_s": round(statistics.median(starts), 3),
            "trivial_cell_ms": round(1000 * statistics.median(cells), 2)}


# ------------------------------------------------------------------------------ main

def recorded_kernel_seconds(run_dir: Path) -> float:
    """The sum of the sessions' `kernel_seconds` (cibench's own measure of its attempts)."""
    total = 0.0
    for path in run_dir.rglob("*.ipynb"):
        meta = json.loads(path.read_text()).get("metadata", {}).get("cibench", {})
        total += float(meta.get("kernel_seconds") or 0.0)
    return round(total, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, help="a folder of task notebooks (default: import "
                        f"{DATASET} and take its {SPLIT} split)")
    parser.add_argument("--quick", action="store_true",
                        help=f"the first {QUICK_TASKS} tasks that validate")
    parser.add_argument("--work", type=Path, help="keep the import, ground truth and runs here")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cibench-bench-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        oracle = work / "oracle"
        suite = find_suite(args, work)
        tasks, tried, total = validated_tasks(suite, oracle, work, args.quick)
        if not tasks:
            sys.exit("overhead: no task validates; see " + str(work / "validate.log"))
        steps = sum(len(t.steps) for t in tasks)
        print(f"{len(tasks)} tasks, {steps} steps")
        shutil.rmtree(work / "bare", ignore_errors=True)
        bare_wall, bare_rows = asyncio.run(bare_loop(tasks, work / "bare"))
        floor = sum(r["floor_s"] for r in bare_rows)
        print(f"bare nbclient loop: wall {bare_wall:.2f} s, floor {floor:.2f} s")
        context = asyncio.run(kernel_numbers())
        print(f"kernel start {context['kernel_start_s']} s, trivial cell "
              f"{context['trivial_cell_ms']} ms")
        runs = []
        for jobs in args.jobs:
            out = work / f"run-j{jobs}"
            shutil.rmtree(out, ignore_errors=True)
            wall, status = run_cibench(
                ["-q", "run", *(t.path for t in tasks), "--model", "oracle", "--mode", "e2e",
                 "--jobs", str(jobs), "--out", out, "--oracle-dir", oracle, "--no-report"],
                work / f"run-j{jobs}.log", check=False)
            row = summary_row(out) if (out / "summary.json").exists() else {}
            runs.append({"jobs": jobs, "wall_s": round(wall, 3), "exit": status,
                         "kernel_seconds_recorded": recorded_kernel_seconds(out), **row})
            print(f"cibench run --jobs {jobs}: {wall:.2f} s (exit {status})")
    rows = [["bare nbclient loop", round(bare_wall, 3), round(floor, 3), "–",
             round(bare_wall / floor, 3), 1.0, sum(r["cells_in_error"] for r in bare_rows), "–"]]
    for r in runs:
        r["wall_over_floor"] = round(r["wall_s"] / floor, 3)
        r["wall_over_bare_wall"] = round(r["wall_s"] / bare_wall, 3)
        rows.append([f"cibench run --jobs {r['jobs']}", r["wall_s"], "–",
                     r["kernel_seconds_recorded"], r["wall_over_floor"],
                     r["wall_over_bare_wall"], r.get("errors"), r.get("exec_rate")])
    body = table(["what", "wall s", "floor s", "kernel s (cibench's record)", "wall ÷ floor",
                  "wall ÷ bare wall", "errors (cells / sessions)", "Exe %"], rows)
    print(body)
    by_jobs = {r["jobs"]: r for r in runs}
    targets = []
    if 1 in by_jobs:
        targets.append(f"`--jobs 1` within 1.25× of the floor: {by_jobs[1]['wall_over_floor']}×")
    if 2 in by_jobs:
        targets.append(f"`--jobs 2` below the bare loop's wall: "
                       f"{by_jobs[2]['wall_over_bare_wall']}× of it")
    task_lines = "\n".join(
        f"| {t.id} | {len(t.steps)} | {r['cells']} | {r['wall_s']} | {r['floor_s']} | "
        f"{'imported by position (mismatch)' if t.metadata.get('mismatch') else ''} |"
        for t, r in zip(tasks, bare_rows, strict=True))
    source = f"`--suite {args.suite}`" if args.suite else (
        f"`cibench import cibench {DATASET}`, split `{SPLIT}`")
    text = (body + "\n\nTargets: " + "; ".join(targets) + ".\n\n"
            f"Tasks: {source}: {total} tasks; of the {tried} with their data files"
            f"{' (the first ' + str(QUICK_TRIED) + ' tried, --quick)' if args.quick else ''}, "
            f"those `cibench validate` passes{' (the first ' + str(QUICK_TASKS) + ')' if args.quick else ''}: "
            f"**{len(tasks)} tasks, {steps} steps**. The floor is the sum of execute_input → "
            "execute_reply (message header dates) of those tasks' setup, reference and check cells "
            "in the bare loop; the bare loop's wall includes starting and stopping one kernel per "
            "task and its startup.py; `cibench run` walls are the whole process (Python start, "
            "imports, loading tasks, kernels, helper cells, scoring, writing notebooks; no HTML "
            "report: `--no-report`), ground truth built beforehand. \"kernel s (cibench's "
            "record)\": the sum of the sessions' `kernel_seconds` (client-side time of the "
            "attempts, i.e. the references; setup and checks not included). For context ("
            "measured by the same script, no sandbox): a cibench kernel starts in "
            f"{context['kernel_start_s']} s; a trivial cell takes {context['trivial_cell_ms']} "
            "ms.\n\n"
            "| task | steps | cells | bare wall s | floor s | note |\n"
            "|---|---:|---:|---:|---:|---|\n"
            + task_lines)
    write_results("overhead", "(a) Harness overhead against the floor, CIBench generation tasks",
                  text, {"suite": str(args.suite or DATASET), "tasks": [t.id for t in tasks],
                         "steps": steps, "tried": tried, "total": total, "bare_wall_s": round(bare_wall, 3),
                         "floor_s": round(floor, 3), "bare_tasks": bare_rows, "runs": runs,
                         "kernel": context,
                         "repository": str(REPO)}, args.quick)


if __name__ == "__main__":
    main()
