"""(b) Throughput against --jobs, with a local OpenAI-compatible server that answers after a
fixed latency.

    python benchmarks/throughput.py [--latency 0.5] [--copies 8] [--jobs 1 2 4 8] [--many 64]
    python benchmarks/throughput.py --quick        # 2 copies, --jobs 1 2, 4 in flight

A suite of COPIES copies of a 5-step task (generated task notebooks: each step prints a number)
is run with `cibench run SUITE --model openai/scripted --api-base URL --jobs N --no-report` for
each N; every model call waits LATENCY s, then answers in the `react` format with the step's
code. Ground truth is built beforehand (not timed). Then MANY copies run at --jobs MANY, and
the sessions in error (must be 0) and the wall time are reported.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

from common import (
    LatencyServer,
    make_suite,
    model_args,
    model_env,
    run_cibench,
    summary_row,
    table,
    validate_suite,
    write_results,
)


def timed_run(suite: Path, oracle: Path, out: Path, jobs: int, server: LatencyServer,
              ) -> dict[str, object]:
    calls = server.calls
    server.reset()
    wall, status = run_cibench(["-q", "run", suite, *model_args(server), "--jobs", str(jobs),
                                "--out", out, "--oracle-dir", oracle, "--no-report"],
                               out.with_suffix(".log"), env=model_env(), check=False)
    row = summary_row(out) if (out / "summary.json").exists() else {"errors": None}
    return {"jobs": jobs, "wall_s": round(wall, 3), "exit": status,
            "model_calls": server.calls - calls, "peak_calls_in_flight": server.peak_in_flight,
            "first_call_to_last_answer_s": server.model_span(),
            **row}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per model call")
    parser.add_argument("--copies", type=int, default=8, help="copies of the 5-step task")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--many", type=int, default=64,
                        help="sessions in flight in the last run (0: skip it)")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes: 2 copies, --jobs 1 2, 4 in flight")
    parser.add_argument("--work", type=Path, help="keep the suites and run folders here")
    args = parser.parse_args()
    if args.quick:
        args.copies, args.jobs, args.many = 2, [1, 2], 4
    with tempfile.TemporaryDirectory(prefix="cibench-bench-") as tmp:
        work = args.work or Path(tmp)
        oracle = work / "oracle"
        suite = make_suite(work / "suites", args.copies, args.steps, "latency")
        truth_s = validate_suite(suite, oracle, work / "validate.log")
        many = None
        if args.many:
            many = make_suite(work / "suites", args.many, args.steps, f"latency{args.many}")
            truth_s += validate_suite(many, oracle, work / "validate-many.log")
        print(f"ground truth built in {truth_s:.1f} s (not counted)")
        rows = []
        with LatencyServer(args.latency) as server:
            for jobs in args.jobs:
                rows.append(timed_run(suite, oracle, work / f"run-j{jobs}", jobs, server))
                print(f"--jobs {jobs}: {rows[-1]['wall_s']:.2f} s")
            many_row = None
            if many is not None:
                many_row = timed_run(many, oracle, work / f"run-many{args.many}", args.many,
                                     server)
                print(f"{args.many} in flight: {many_row['wall_s']:.2f} s, "
                      f"{many_row['errors']} sessions in error")
    base = next((r["wall_s"] for r in rows if r["jobs"] == 1), None)
    base_span = next((r["first_call_to_last_answer_s"] for r in rows if r["jobs"] == 1), None)
    per_task_model = args.steps * args.latency
    lines = []
    for r in rows:
        ideal = math.ceil(args.copies / r["jobs"]) * per_task_model
        r["speedup_vs_jobs1"] = round(base / r["wall_s"], 2) if base else None
        span = r["first_call_to_last_answer_s"]
        r["span_speedup_vs_jobs1"] = round(base_span / span, 2) if base_span and span else None
        r["model_floor_s"] = ideal
        lines.append([r["jobs"], r["wall_s"], r["speedup_vs_jobs1"], ideal,
                      r["first_call_to_last_answer_s"], r["span_speedup_vs_jobs1"], r["model_calls"],
                      r["peak_calls_in_flight"], r["errors"], r["exec_rate"], r["num_acc"]])
    headers = ["--jobs", "wall s", "speedup vs --jobs 1", "model-latency floor s",
               "first call → last answer s", "speedup of that span", "model calls",
               "peak calls in flight", "sessions in error", "Exe %", "Num %"]
    body = table(headers, lines)
    if many_row is not None:
        body += "\n\n" + table(
            ["sessions in flight", "wall s", "first call → last answer s", "model calls",
             "peak calls in flight", "sessions done", "sessions in error", "failed steps",
             "exit", "Exe %", "Num %"],
            [[args.many, many_row["wall_s"], many_row["first_call_to_last_answer_s"],
              many_row["model_calls"], many_row["peak_calls_in_flight"], many_row.get("tasks"),
              many_row["errors"], many_row.get("failed_steps"), many_row["exit"],
              many_row["exec_rate"], many_row["num_acc"]]])
    print(body)
    target = ""
    by_jobs = {r["jobs"]: r for r in rows}
    if 8 in by_jobs and base:
        target = (f"\n\nTarget: `--jobs 8` at least 6.5× faster than `--jobs 1`: "
                  f"{by_jobs[8]['speedup_vs_jobs1']}× by wall clock of the whole process, "
                  f"{by_jobs[8]['span_speedup_vs_jobs1']}× over the sessions' span (first call → "
                  "last answer: without the constant start of the process). ")
    if many_row is not None and args.many == 64:
        target += (f"64 in flight without failures: {many_row['errors']} sessions in error, "
                   f"{many_row.get('failed_steps')} failed steps.")
    explain = (f"\n\nSuite: {args.copies} copies of a {args.steps}-step task (generated; each "
               f"step prints a number), one model call per step answered after {args.latency} s "
               "by the scripted server (tests/openai_server.py) in the `react` format. Each run: "
               "`cibench -q run SUITE --model openai/scripted --api-base URL --jobs N --out "
               "FRESH --oracle-dir O --no-report`, wall clock of the whole process (Python start "
               f"included); ground truth built beforehand ({truth_s:.1f} s, not counted). "
               "Model-latency floor: ceil(copies / jobs) × steps × latency. \"first call → last "
               "answer\": the span the server saw, i.e. the wall without cibench's start (Python, "
               "imports, loading tasks, first kernel) and end (writing the last notebook, "
               "summary).")
    write_results("throughput", "(b) Throughput against --jobs, fixed-latency model",
                  body + target + explain,
                  {"latency_s": args.latency, "copies": args.copies, "steps": args.steps,
                   "runs": rows, "many": many_row, "ground_truth_s": round(truth_s, 2)},
                  args.quick)


if __name__ == "__main__":
    main()
