"""Time scoring CRUXEval generations: cibench's replay (`--model answers:FILE --samples N`) against
CRUXEval's own evaluator (`evaluation/evaluate_generations.py`), on the same generations.

    python scripts/bench_cruxeval.py --cruxeval-repo /tmp/cruxeval [--samples 5] [--jobs 2]
    python scripts/bench_cruxeval.py --cruxeval-repo /tmp/cruxeval \\
        --generations /tmp/cruxeval/samples/model_generations/sample_codellama-7b_temp0.2_output/generations.json

CRUXEval's code is not part of cibench: get it with
`git clone https://github.com/facebookresearch/cruxeval /tmp/cruxeval` (it needs numpy only).
Without --generations, N generations per task are synthesized, deterministically (--seed): right
(the output literal, or an equivalent expression), wrong (another value), malformed (cut short),
and skipped by CRUXEval's rule (`f(<input>)`). The script:
1. writes them to `<work>/synthetic_output/generations.json`;
2. runs CRUXEval's evaluator on them (`python evaluate_generations.py ... --mode output` in the
   repo's `evaluation/`, as its README says) and times it;
3. imports the 800 tasks (`cibench import cruxeval`) and builds their ground truth once (timed
   apart: CRUXEval has no such step), then times `cibench run SUITE --model answers:FILE
   --samples N --jobs J` (fast path);
4. prints both wall times and both pass@1/pass@5, which must agree.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATASET = REPO.parent / "shared" / "datasets" / "cruxeval" / "cruxeval.jsonl"


def synthesize(rows: list[dict], n: int, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    gens: dict[str, list[str]] = {}
    for row in rows:
        out, inp = row["output"], row["input"]
        choices = []
        for _ in range(n):
            kind = rng.choices(["right", "right2", "wrong", "malformed", "skipped"],
                               weights=[4, 1, 3, 1, 1])[0]
            if kind == "right":
                choices.append(out)
            elif kind == "right2":
                choices.append(f"({out})")
            elif kind == "wrong":
                choices.append(rng.choice(["None", "0", "''", "[]", repr(out), f"{out}, 1"]))
            elif kind == "malformed":
                choices.append(out[:max(1, len(out) // 2)] + "(")
            else:
                choices.append(f"f({inp})")
        gens[row["id"]] = choices
    return gens


def run_cruxeval(repo: Path, gens_path: Path, mode: str, scored: Path) -> tuple[float, dict]:
    evaluation = repo / "evaluation"
    if not (evaluation / "evaluate_generations.py").is_file():
        sys.exit(f"bench_cruxeval: {evaluation}/evaluate_generations.py not found; get CRUXEval "
                 "with `git clone https://github.com/facebookresearch/cruxeval /tmp/cruxeval`")
    started = time.monotonic()
    subprocess.run([sys.executable, "evaluate_generations.py", "--generations_path",
                    str(gens_path), "--scored_results_path", str(scored), "--mode", mode],
                   cwd=evaluation, check=True, stdout=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    data = json.loads(scored.read_text())
    return seconds, {"pass@1": round(data["pass_at_1"], 2), "pass@5": round(data["pass_at_5"], 2)}


def cibench(*args: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "cibench", "-q", *args], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cruxeval-repo", type=Path, default=Path("/tmp/cruxeval"))
    ap.add_argument("--dataset", type=Path, default=DATASET)
    ap.add_argument("--generations", type=Path, help="a real generations.json instead")
    ap.add_argument("--mode", choices=["output", "input"], default="output")
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, help="work folder (default: a new temporary one)")
    args = ap.parse_args()
    if not args.dataset.is_file():
        sys.exit(f"bench_cruxeval: {args.dataset}: no such file (pass --dataset cruxeval.jsonl)")
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-cruxeval-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in args.dataset.read_text().splitlines() if line.strip()]
    if args.generations:
        gens_path, mode = args.generations.resolve(), args.mode
        gens = json.loads(gens_path.read_text())
        samples = min(len(v) for v in gens.values())
    else:
        mode, samples = "output", args.samples
        folder = work / "synthetic_output"  # CRUXEval takes the mode from the path ("input")
        folder.mkdir(exist_ok=True)
        gens_path = folder / "generations.json"
        gens_path.write_text(json.dumps(synthesize(rows, samples, args.seed), indent=1))
    print(f"{len(rows)} tasks x {samples} samples, {mode} mode, generations {gens_path}")
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")

    crux_s, crux = run_cruxeval(args.cruxeval_repo.resolve(), gens_path, mode,
                                work / "scored.json")
    print(f"CRUXEval evaluate_generations.py: {crux_s:.1f} s wall; {crux}")

    suite = work / "suite" / f"cruxeval-{mode}"
    cibench("import", "cruxeval", str(args.dataset), "--out", str(suite), "--task", mode)
    oracle = work / "oracle"
    truth_s = 0.0
    if not oracle.is_dir():  # ground truth once (CRUXEval has no such step); fast path too
        first = {k: v[:1] for k, v in json.loads(gens_path.read_text()).items()}
        warm = work / "warm.json"
        warm.write_text(json.dumps(first))
        truth_s = cibench("run", str(suite), "--model", f"answers:{warm}@warm", "--out",
                          str(work / "warm-run"), "--oracle-dir", str(oracle),
                          "--jobs", str(args.jobs))
    out = work / f"run-{int(time.time())}"
    run_s = cibench("run", str(suite), "--model", f"answers:{gens_path}@bench", "--samples",
                    str(samples), "--out", str(out), "--oracle-dir", str(oracle),
                    "--jobs", str(args.jobs))
    summary = json.loads((out / "summary.json").read_text())["results"][0]
    ours = {k: v for k, v in summary["pass_at_k"].items() if k in ("pass@1", "pass@5")}
    print(f"cibench run --model answers:FILE --samples {samples} --jobs {args.jobs}: "
          f"{run_s:.1f} s wall ({summary['sessions']} sessions); {ours}")
    if truth_s:
        print(f"  (ground truth of the 800 tasks, once, before: {truth_s:.1f} s)")
    print(f"ratio cibench / CRUXEval: {run_s / crux_s:.2f}")
    agree = all(abs(ours[k] - crux[k]) < 0.01 for k in ours)
    print("pass@k agree" if agree else "pass@k DIFFER")
    if not agree:
        sys.exit(1)


if __name__ == "__main__":
    main()
