"""(d) The Ray executor against the local one, on the same run.

    python benchmarks/ray_vs_local.py [--copies 8] [--jobs 8] [--latency 0.5] [--address ADDR]
    python benchmarks/ray_vs_local.py --quick      # 2 copies, --jobs 2

The suite of throughput.py (COPIES copies of a 5-step task, a model that answers after LATENCY s)
run three ways, fresh --out each: local `--jobs 1`, local `--jobs N`, and `--executor ray --jobs
N`. Without --address, cibench starts a local Ray instance inside the run; its start is read
from cibench's own log line (`ray: local instance started in S s`; else `ray.init()` is measured
alone once in a fresh process, `import ray` not included) and reported separately: the Ray row's
counted wall is its wall minus that. With --address (an instance already running) cibench logs
how long connecting took; that is subtracted the same way.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from common import (
    LatencyServer,
    cibench_env,
    has_run_flag,
    make_suite,
    model_args,
    model_env,
    run_cibench,
    summary_row,
    table,
    validate_suite,
    write_results,
)

RAY_LOG = re.compile(r"ray: (local instance started|connected to \S+) in ([\d.]+) s")
HOSTS_LOG = re.compile(r"ray: (\d+) session host\(s\) started and warmed in ([\d.]+) s")
RAY_INIT = ("import time, ray\nt = time.perf_counter()\nray.init()\n"
            "print(time.perf_counter() - t)\nray.shutdown()\n")


def ray_start_seconds() -> float:
    """`ray.init()` alone (a local instance started and shut down), in a fresh process."""
    proc = subprocess.run([sys.executable, "-c", RAY_INIT], capture_output=True, text=True,
                          env=cibench_env())
    if proc.returncode != 0:
        sys.exit("ray_vs_local: ray.init() failed: " + (proc.stderr.strip().splitlines() or
                                                        ["?"])[-1])
    return float(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=8, help="sessions in flight (local and Ray)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per model call")
    parser.add_argument("--address", help="a running Ray instance (passed as --address)")
    parser.add_argument("--quick", action="store_true", help="2 copies, --jobs 2")
    parser.add_argument("--work", type=Path, help="keep the suite and run folders here")
    args = parser.parse_args()
    if args.quick:
        args.copies, args.jobs = 2, 2
    missing = [f for f in ("--executor", "--address") if not has_run_flag(f)]
    if missing:
        line = (f"not measured: this cibench's `run` has no {' / '.join(missing)} flag yet "
                "(the Ray executor lands in main later); nothing to compare")
        print(f"ray_vs_local: {line}")
        write_results("ray", "(d) Ray executor against local", line,
                      {"measured": False, "reason": line}, args.quick)
        return
    if subprocess.run([sys.executable, "-c", "import ray"], env=cibench_env(),
                      capture_output=True).returncode != 0:
        sys.exit("ray_vs_local: ray is not installed in this Python (pip install 'cibench[ray]')")
    with tempfile.TemporaryDirectory(prefix="cibench-bench-") as tmp:
        work = args.work or Path(tmp)
        oracle = work / "oracle"
        suite = make_suite(work / "suites", args.copies, args.steps, "latency")
        validate_suite(suite, oracle, work / "validate.log")
        variants = [("local", 1, []), ("local", args.jobs, []),
                    ("ray", args.jobs, ["--executor", "ray",
                                        *(["--address", args.address] if args.address else [])])]
        rows = []
        ray_start, ray_what, hosts_s = None, "", 0.0
        with LatencyServer(args.latency) as server:
            for executor, jobs, extra in variants:
                out = work / f"run-{executor}-j{jobs}"
                server.reset()
                # the Ray run logs at INFO: its line says how long Ray took to start
                wall, status = run_cibench(
                    [*([] if executor == "ray" else ["-q"]), "run", suite, *model_args(server),
                     "--jobs", str(jobs), "--out", out, "--oracle-dir", oracle, "--no-report",
                     *extra], out.with_suffix(".log"), env=model_env(), check=False)
                row = summary_row(out) if (out / "summary.json").exists() else {"errors": None}
                if executor == "ray":
                    logged = out.with_suffix(".log").read_text()
                    hosts = HOSTS_LOG.search(logged)
                    hosts_s = float(hosts.group(2)) if hosts else 0.0
                    found = RAY_LOG.search(logged)
                    if found:
                        ray_what, ray_start = f"cibench's log: `{found.group(0)}`", \
                            float(found.group(2))
                    elif not args.address:
                        ray_what, ray_start = "`ray.init()` alone, measured once", \
                            ray_start_seconds()
                counted = wall - (ray_start or 0.0) - hosts_s if executor == "ray" else wall
                rows.append({"executor": executor, "jobs": jobs, "wall_s": round(wall, 3),
                             "counted_s": round(counted, 3), "exit": status,
                             "first_call_to_last_answer_s": server.model_span(), **row})
                print(f"{executor} --jobs {jobs}: {wall:.2f} s (exit {status})")
    base = rows[0]["counted_s"]
    base_span = rows[0]["first_call_to_last_answer_s"]
    for r in rows:
        r["speedup_vs_local_jobs1"] = round(base / r["counted_s"], 2)
        span = r["first_call_to_last_answer_s"]
        r["span_speedup_vs_local_jobs1"] = round(base_span / span, 2) if base_span and span \
            else None
    body = table(["executor", "--jobs", "wall s", "counted s", "speedup vs local --jobs 1",
                  "first call → last answer s", "speedup of that span", "sessions in error",
                  "exit"],
                 [[r["executor"], r["jobs"], r["wall_s"], r["counted_s"],
                   r["speedup_vs_local_jobs1"], r["first_call_to_last_answer_s"],
                   r["span_speedup_vs_local_jobs1"], r["errors"], r["exit"]] for r in rows])
    start = (f"Ray start or connection, not counted ({ray_what}): {ray_start:.2f} s, and its "
             f"session hosts started and warmed (cibench's log): {hosts_s:.2f} s; the Ray "
             "row's counted = wall − both (its shutdown at the end stays counted)."
             if ray_start is not None else
             f"Ray instance given (`--address {args.address}`): nothing subtracted.")
    print(body)
    print(start)
    text = (body + "\n\n" + start + f"\n\nTarget: Ray with 8 sessions in flight at least 4× "
            f"faster than local `--jobs 1`: {rows[2]['speedup_vs_local_jobs1']}× (here "
            f"--jobs {args.jobs}).\n\nSuite: {args.copies} copies of a {args.steps}-step task, "
            f"{args.latency} s model (scripted server), `cibench -q run SUITE --model "
            "openai/scripted --api-base URL --no-report ...`, fresh --out each, ground truth "
            "built beforehand.")
    write_results("ray", "(d) Ray executor against local", text,
                  {"measured": True, "ray_start_s": ray_start, "ray_start_from": ray_what,
                   "ray_hosts_s": hosts_s,
                   "address": args.address,
                   "copies": args.copies, "latency_s": args.latency, "runs": rows}, args.quick)


if __name__ == "__main__":
    main()
