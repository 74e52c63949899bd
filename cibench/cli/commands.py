"""One function per `cibench` command: each takes the parsed flags and returns the exit code.
`COMMANDS` maps a command's name to its function (cli.main runs it under the only asyncio.run)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from ..progress import make_progress
from .run_flags import run_options, vis_judge_params

log = logging.getLogger("cibench")

RESULT_COLUMNS = (("tool_rate", "Tool"), ("exec_rate", "Exe"), ("num_acc", "Num"),
                  ("text_score", "Text"), ("vis_score", "Vis"), ("check_rate", "Check"))


def print_summary(summary: dict[str, Any], out: Path) -> None:
    """The end of a run: a small table, one row per (model, mode), percent of steps."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    scorings = sorted({row["scoring"] for row in summary["results"]})
    table = Table(title=f"results, % of steps (scoring {', '.join(scorings)}; – = no step of "
                  "that type)", title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0),
                  pad_edge=False)
    for name in ("model", "mode", "tasks", "steps"):
        table.add_column(name, justify="left" if name in ("model", "mode") else "right")
    for _, label in RESULT_COLUMNS:
        table.add_column(label, justify="right")
    table.add_column("err", justify="right")
    extra = []
    for row in summary["results"]:
        metrics = row["metrics"]
        mode = row["mode"] if len(scorings) == 1 else f"{row['mode']}/{row['scoring']}"
        table.add_row(row["model"], mode, str(row["tasks"]), str(row["steps"]),
                      *("–" if metrics.get(k) is None else f"{metrics[k]:.1f}" for k, _ in RESULT_COLUMNS),
                      str(len(row["errors"])))
        if row.get("pass_at_k"):
            extra.append(f"{row['model']} [{row['mode']}]: " + ", ".join(
                f"{k} {v:.1f}" for k, v in row["pass_at_k"].items()))
    console = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 160)
    console.print(table)
    for line in extra:
        console.print(line, markup=False, highlight=False)
    console.print(f"sessions and summary.json in {out}", markup=False, highlight=False)


async def validate(args: argparse.Namespace) -> int:
    from ..fsutil import check_folder_arg
    from ..preflight import preflight_tasks
    from ..runner import prepare_truth
    from ..task import load_tasks

    check_folder_arg(args.oracle_dir, "--oracle-dir")
    all_tasks = load_tasks(args.paths)
    tasks, waiting = preflight_tasks(all_tasks)
    progress = make_progress(not args.quiet)
    try:
        truths, invalid = await prepare_truth(tasks, args.oracle_dir, args.jobs,
                                              rebuild=args.rebuild, progress=progress)
    finally:
        progress.close()
    for task_id, truth in sorted(truths.items()):
        print(f"ok {task_id}: {len(truth.steps)} steps, ground truth in "
              f"{args.oracle_dir / (task_id + '.json')}")
    for task_id, error in invalid.items():
        print(f"FAILED {task_id}: {error}")
    for task_id, reason in waiting.items():
        print(f"SKIPPED {task_id}: {reason}")
    if args.report:
        from ..validation import validation_table, write_table
        table = await validation_table(tasks, truths, invalid, waiting, all_tasks=all_tasks,
                                       jobs=args.jobs)
        write_table(args.report, table)
        print(f"validation table in {args.report}")
    if invalid:
        print(f"cibench: error: {len(invalid)} of {len(tasks)} tasks failed validation",
              file=sys.stderr)
        return 2
    return 0


async def run(args: argparse.Namespace) -> int:
    from ..runner import run_benchmark

    opts = run_options(args)
    try:
        result = await run_benchmark(opts)
    finally:
        opts.progress.close()
    print_summary(result.summary, result.out)
    if not args.no_report:
        from ..report import write_report
        folder = result.out / "report"
        await asyncio.to_thread(write_report, [result.out], folder)
        print(f"report: {folder / 'index.html'}")
    if result.skipped:
        print(f"{result.skipped} tasks were skipped until their assets are in place (listed "
              "in summary.json skipped_tasks)", file=sys.stderr)
    if result.invalid:
        print(f"cibench: error: {result.invalid} tasks were skipped because their reference "
              "fails (listed in summary.json invalid_tasks; fix them and run again)",
              file=sys.stderr)
    if result.errors:
        print(f"{result.errors} sessions ended in an infrastructure error; run the same "
              "command again to resume them", file=sys.stderr)
        return 1
    return 2 if result.invalid else 0


async def score(args: argparse.Namespace) -> int:
    from ..rescore import rescore

    result = await rescore(args.run_dir, args.oracle_dir, args.scoring, vis_judge_params(args))
    print_summary(result.summary, result.out)
    return 0


async def batch(args: argparse.Namespace) -> int:
    import shlex

    from ..batch import run_batch
    params = {"suites": args.paths, "models": args.models or ["local"],
              "modes": args.modes or ["e2e", "oracle"], "out_root": str(args.out_root),
              "oracle_dir": str(args.oracle_dir), "scoring": args.scoring,
              "report": str(args.report), "extra_args": shlex.split(args.extra)}
    executed = await asyncio.to_thread(run_batch, params, args.executed)
    print(f"batch notebook {executed}; report in {args.report / 'index.html'}")
    return 0


async def report(args: argparse.Namespace) -> int:
    from ..report import write_report
    if args.out.suffix.lower() in (".md", ".json", ".html"):
        folder = args.out.with_suffix("")
        print(f"--out {args.out}: --out is now a folder; writing the report into {folder}/",
              file=sys.stderr)
        args.out = folder
    written = write_report(args.run_dirs, args.out)
    for entry in written["leaderboard"]:
        print(" ".join(f"{k}={v}" for k, v in entry.items() if v is not None))
    print(args.out / "index.html")
    return 0


async def export_answers(args: argparse.Namespace) -> int:
    from ..export import export_answers as export
    target, rows, sessions = export(args.run_dir, args.out, args.model)
    print(f"wrote {rows} answers of {sessions} sessions to {target}")
    return 0


async def import_suite(args: argparse.Namespace) -> int:
    from ..importers import ImportOptions
    from ..importers import import_suite as do_import
    imported = do_import(args.kind, args.src, ImportOptions(
        out=args.out, language=args.language, include_incomplete=args.include_incomplete,
        limit=args.limit, ids=args.ids, task=args.task))
    print(imported.summary())
    return 0


async def kernel(args: argparse.Namespace) -> int:
    """`cibench kernel install|check` (the kernel's own environment, docs/kernel.md)."""
    action = kernel_install if args.kernel_command == "install" else kernel_check
    return await asyncio.to_thread(action, args)


def kernel_install(args: argparse.Namespace) -> int:
    from ..kernel_install import install
    result = install(args.profile, path=args.path, requirements=args.requirements,
                     base_python=args.base_python, installer=args.installer,
                     force=args.force, register_env=not args.no_register)
    for warning in result.warnings:
        log.warning("%s", warning)
    if result.changed:
        print(f"installed kernel environment {result.profile} in {result.path} "
              f"({result.installer}, {result.seconds:.1f} s); kernel python {result.python}")
    else:
        print(f"kernel environment {result.profile} in {result.path} is up to date; "
              f"kernel python {result.python}")
    return 0


def kernel_check(args: argparse.Namespace) -> int:
    from ..kernel_check import check
    checked = check(args.python, args.profile)
    print(f"kernel python {checked.python} (Python {checked.version}, profile {checked.profile})")
    for line in checked.lines:
        print(line)
    if checked.missing:
        print(f"cibench: error: missing from the kernel environment: "
              f"{', '.join(checked.missing)} (run `cibench kernel install`)", file=sys.stderr)
        return 1
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "validate": validate, "run": run, "score": score, "batch": batch, "report": report,
    "export-answers": export_answers, "import": import_suite, "kernel": kernel}
