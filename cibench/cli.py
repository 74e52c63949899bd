"""The `cibench` command line: validate, run, score. The only place that configures logging
and the only `asyncio.run`."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .agents.base import AgentOptions
from .errors import CibenchError
from .kernel import INTERRUPT_GRACE, OutputCaps
from .limits import SMALLEST_MEMORY_MB, KernelLimits
from .progress import console, make_progress
from .sandbox import SandboxOptions
from .session import SessionSettings

if TYPE_CHECKING:
    from .runner import RunOptions

log = logging.getLogger("cibench")

RUN_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def _model_arg(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--model-arg {text!r}: expected key=value")
    key, value = text.split("=", 1)

    def no_constant(name: str) -> Any:
        raise argparse.ArgumentTypeError(f"{text!r}: {name} is not a finite number")
    try:
        return key, json.loads(value, parse_constant=no_constant)
    except json.JSONDecodeError:
        return key, value


def _number(text: str, kind: type = float, low: float | None = None,
            high: float | None = None, low_open: bool = False) -> Any:
    """A finite number of `kind` in [low, high] (low excluded with `low_open`)."""
    try:
        value = kind(text)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    if low is not None and (value <= low if low_open else value < low):
        raise argparse.ArgumentTypeError(
            f"{text!r} must be {'more than' if low_open else 'at least'} {low:g}")
    if high is not None and value > high:
        raise argparse.ArgumentTypeError(f"{text!r} must be at most {high:g}")
    return value


def _ranged(kind: type = float, low: float | None = None, high: float | None = None,
            low_open: bool = False) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        return _number(text, kind, low, high, low_open)
    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


def _price(text: str) -> tuple[float, float]:
    parts = text.split(",")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"{text!r}: expected IN,OUT in USD per million tokens, "
                                         "e.g. 2.5,10")
    try:
        a, b = (_number(x.strip(), float, 0, 1e6) for x in parts)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc} (expected IN,OUT in USD per "
                                         "million tokens, e.g. 2.5,10)") from None
    return a, b


def _positive_int(text: str) -> int:
    return _number(text, int, 1, 10 ** 9)


def _positive_float(text: str) -> float:
    return _number(text, float, 0, 10 ** 7, low_open=True)


def _run_id(text: str) -> str:
    """A run id is a folder name under sessions/: no path, no `..`, no hidden names."""
    if not RUN_ID_RE.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a plain name (letters, digits, '.', '_', '-'; no '/', no leading "
            "'.'; up to 128 characters)")
    return text


def _kernel_user(text: str) -> str:
    """auto, off, a user name that exists, or a uid (checked before anything is written)."""
    if text in ("auto", "off"):
        return text
    if text.isdigit():
        _number(text, int, 0, 2 ** 32 - 2)
        return text
    import pwd
    try:
        pwd.getpwnam(text)
    except KeyError:
        raise argparse.ArgumentTypeError(f"no such user {text!r} (use auto, off, a user name "
                                         "or a numeric uid)") from None
    return text


def _registered(kind: str, lookup: Callable[[str], Any]) -> Callable[[str], str]:
    """An argparse type: a name its registry knows (built-ins and installed plugins)."""
    def check(text: str) -> str:
        try:
            lookup(text)
        except CibenchError as exc:
            raise argparse.ArgumentTypeError(exc.message) from None
        return text
    check.__name__ = kind
    return check


def _scoring(text: str) -> str:
    from .scoring.scorer import get_profile
    return _registered("scoring profile", get_profile)(text)


def _protocol(text: str) -> str:
    from .agents.protocols import get_protocol
    return _registered("protocol", get_protocol)(text)


def _vis_judge_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("vision judge (docs/scoring.md)")
    group.add_argument("--vis-judge", metavar="MODEL",
                       help="a vision model (litellm name) that judges each figure against the "
                            "instruction; recorded as vis_judge, answers cached in the run folder")
    group.add_argument("--vis-judge-variant", choices=["rubric", "binary"], default="rubric",
                       help="rubric: 1-10 as CIBench; binary: right/wrong as Qwen-Agent")
    group.add_argument("--vis-judge-api-base", metavar="URL",
                       help="OpenAI-compatible server of the judge")
    group.add_argument("--vis-judge-key-env", metavar="VAR",
                       help="environment variable that holds the judge's API key")


def _vis_judge(args: argparse.Namespace) -> dict[str, Any] | None:
    if not getattr(args, "vis_judge", None):
        return None
    from .vis_judge import JudgeSettings
    return JudgeSettings(model=args.vis_judge, variant=args.vis_judge_variant,
                         api_base=args.vis_judge_api_base,
                         api_key_env=args.vis_judge_key_env).as_params()


def _limit(text: str) -> int:
    """A resource limit: a whole number, 0 meaning none."""
    return _number(text, int, 0, 10 ** 9)


def _memory_limit(text: str) -> int:
    value = _limit(text)
    if 0 < value < SMALLEST_MEMORY_MB:
        raise argparse.ArgumentTypeError(f"{text!r} MiB cannot start a kernel: use 0 (no limit) "
                                         f"or at least {SMALLEST_MEMORY_MB}")
    return value


def _cpu_limit(text: str) -> int:
    value = _limit(text)
    if 0 < value < 10:
        raise argparse.ArgumentTypeError(f"{text!r} s cannot start a kernel: use 0 (no limit) "
                                         "or at least 10")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (naming the flag and pointing at --help), exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


EXAMPLES = """examples:
  cibench run notebooks/demo                          # the embedded local model, no API key
  cibench run notebooks/demo --model gpt-4o --mode oracle --out sessions/gpt4o
  cibench report sessions/gpt4o --out reports/out     # tables, figures, links to sessions

`cibench COMMAND --help` lists a command's flags; the README has a tour."""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cibench", description="Evaluate LLM agents that use a Jupyter code interpreter.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXAMPLES)
    parser.add_argument("--version", action="version", version=f"cibench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)

    val = sub.add_parser("validate", help="execute task references and store ground truth")
    val.add_argument("paths", nargs="+", help="task notebooks or folders of them")
    val.add_argument("--oracle-dir", type=Path, default=Path("oracle"),
                     help="where ground truth lives (default ./oracle)")
    val.add_argument("--rebuild", action="store_true", help="rebuild even if current")
    val.add_argument("--jobs", type=_positive_int, default=2, help="tasks at once (default 2)")
    val.add_argument("--report", type=Path, metavar="FILE.md",
                     help="also write a table per split × module (validated, needs assets, "
                          "needs network, missing module, reference error, non-deterministic: "
                          "validated tasks run their references a second time to tell)")

    run = sub.add_parser("run", help="run models through task notebooks and score them")
    run.add_argument("paths", nargs="+", help="task notebooks or folders of them")
    run.add_argument("--model", action="append", dest="models", metavar="MODEL",
                     help="oracle, local, any litellm model name, or answers:FILE[@NAME] "
                          "(replay answers made elsewhere: CRUXEval generations.json, Qwen-Agent "
                          "results, cibench export-answers); repeat for several (default: local)")
    run.add_argument("--mode", choices=["e2e", "oracle"], default="e2e",
                     help="e2e: the model's own history and state carry on; oracle: every step "
                          "starts from the reference solutions of earlier steps")
    run.add_argument("--out", type=Path, help="run folder (default sessions/<run-id>); an "
                                              "existing one is resumed")
    run.add_argument("--run-id", type=_run_id,
                     help="name of the run (default: UTC timestamp); a plain folder name")
    run.add_argument("--oracle-dir", type=Path, default=Path("oracle"))
    run.add_argument("--attempts", type=_ranged(int, 1, 100), default=3,
                     help="tries per step; a step ends at its first attempt that runs (default 3)")
    run.add_argument("--timeout", type=_ranged(float, 0, 7 * 24 * 3600, low_open=True),
                     default=60.0,
                     help="seconds per cell before it is interrupted (default 60)")
    run.add_argument("--scoring", type=_scoring, default="default",
                     help="scoring profile (see docs/scoring.md)")
    run.add_argument("--jobs", type=_ranged(int, 1, 1024), default=2,
                     help="tasks run at once, each in its own kernel (default 2)")
    box = run.add_argument_group("sandbox (see docs/sandbox.md)")
    box.add_argument("--memory-limit", type=_memory_limit, metavar="MB",
                     help="address-space limit of each kernel in MiB; 0 for none (default: 80%% "
                          "of physical memory split over --jobs, at least 1024)")
    box.add_argument("--cpu-limit", type=_cpu_limit, default=3600, metavar="S",
                     help="CPU seconds a kernel process may use before it is killed and "
                          "restarted; 0 for none (default 3600)")
    box.add_argument("--no-network", action="store_true",
                     help="run kernels in an empty network namespace (no network at all)")
    box.add_argument("--kernel-user", type=_kernel_user, default="auto", metavar="USER",
                     help="auto: when run as root, each kernel runs as a uid of its own; off: as "
                          "the invoking user; or a user name/uid (default auto)")
    box.add_argument("--interrupt-grace", type=_ranged(float, 0, 3600, low_open=True),
                     default=INTERRUPT_GRACE,
                     metavar="S", help="seconds an interrupted cell gets to stop before the "
                                       f"kernel is restarted (default {INTERRUPT_GRACE:g})")
    box.add_argument("--keep-scratch", action="store_true",
                     help="keep each session's working directory (for debugging)")
    run.add_argument("--no-report", action="store_true",
                     help="don't write the HTML report into OUT/report/ at the end")
    llm = run.add_argument_group("model calls")
    llm.add_argument("--protocol", type=_protocol, default="react",
                     help="how the conversation is shown to the model (default react)")
    llm.add_argument("--api-base", help="OpenAI-compatible server URL, e.g. http://host/v1")
    llm.add_argument("--api-key-env", metavar="VAR",
                     help="environment variable that holds the API key")
    llm.add_argument("--temperature", type=_ranged(float, 0, 2), default=0.0,
                     help="sampling temperature, 0 to 2 (default 0)")
    llm.add_argument("--max-tokens", type=_ranged(int, 1, 10 ** 7), default=512,
                     help="new tokens per model turn (default 512, as CIBench)")
    llm.add_argument("--seed", type=_ranged(int, 0, 2 ** 63 - 1))
    llm.add_argument("--model-arg", type=_model_arg, action="append", default=[],
                     metavar="KEY=VALUE", help="extra litellm parameter (JSON value or string)")
    llm.add_argument("--retries", type=_ranged(int, 0, 100), default=5,
                     help="retries on 429/5xx/timeouts (default 5)")
    llm.add_argument("--no-cache", action="store_true", help="do not use the response cache")
    llm.add_argument("--feedback-chars", type=_ranged(int, 1, 10 ** 7), default=1024,
                     help="characters of tool output sent back (default 1024, as CIBench)")
    llm.add_argument("--images", action="store_true",
                     help="send produced figures to vision models")
    llm.add_argument("--no-module-hint", action="store_true",
                     help="do not append 'Please use … modules.' to instructions")
    llm.add_argument("--price", type=_price, metavar="IN,OUT",
                     help="USD per million tokens in and out, for models litellm has no price for")
    llm.add_argument("--samples", type=_ranged(int, 1, 10_000), default=1, metavar="N",
                     help="answer each task N times in fresh kernels and report pass@1/5/N "
                          "(use with --temperature > 0; see docs/scoring.md)")
    _vis_judge_args(run)

    score = sub.add_parser("score", help="re-score a run folder without a model or kernel")
    score.add_argument("run_dir", type=Path)
    score.add_argument("--scoring", type=_scoring,
                       help="profile to score with (default: the run's own)")
    score.add_argument("--oracle-dir", type=Path, default=Path("oracle"))
    _vis_judge_args(score)

    batch = sub.add_parser("batch", help="a grid of models × modes run as a papermill notebook")
    batch.add_argument("paths", nargs="+", help="task suites or notebooks")
    batch.add_argument("--model", action="append", dest="models", metavar="MODEL")
    batch.add_argument("--mode", action="append", dest="modes", choices=["e2e", "oracle"])
    batch.add_argument("--out-root", type=Path, default=Path("sessions/batch"),
                       help="one run folder per mode below this (default sessions/batch)")
    batch.add_argument("--oracle-dir", type=Path, default=Path("oracle"))
    batch.add_argument("--scoring", type=_scoring, default="default")
    batch.add_argument("--report", type=Path, default=Path("reports/out/batch"))
    batch.add_argument("--executed", type=Path, default=Path("reports/out/batch.ipynb"),
                       help="where the executed batch notebook goes")
    batch.add_argument("--extra", default="", help="more `cibench run` flags, quoted")

    rep = sub.add_parser("report", help="an HTML report with tables, figures and the session "
                                        "notebooks, plus CSV, Markdown and JSON, over one or "
                                        "more run folders")
    rep.add_argument("run_dirs", nargs="+", type=Path)
    rep.add_argument("--out", type=Path, default=Path("reports/out"),
                     help="report folder: index.html, figures/, sessions/, scores.csv, "
                          "leaderboard.csv, report.md, report.json (default reports/out)")

    exp = sub.add_parser("export-answers",
                         help="write a run's replies as a cibench answers file (replay it with "
                              "--model answers:FILE)")
    exp.add_argument("run_dir", type=Path)
    exp.add_argument("--out", type=Path, help="answers file (default RUN_DIR/answers.jsonl)")
    exp.add_argument("--model", help="the model to export when the run holds several")

    imp = sub.add_parser("import", help="turn another benchmark into a task suite "
                                        "(cibench, cruxeval, qwen-agent, pybench)")
    imp.add_argument("kind", help="importer: cibench, cruxeval, qwen-agent or pybench")
    imp.add_argument("src", type=Path, help="the benchmark's files (see docs/importers.md)")
    imp.add_argument("--out", type=Path, required=True, help="suite folder, e.g. notebooks/cruxeval")
    imp.add_argument("--language", choices=["en", "zh"], default="en")
    imp.add_argument("--include-incomplete", action="store_true",
                     help="also write tasks that need assets or have no reference")
    imp.add_argument("--limit", type=_positive_int, help="at most this many tasks")
    imp.add_argument("--ids", nargs="+", metavar="ID", help="only these source ids")
    imp.add_argument("--task", choices=["output", "input"], default="output",
                     help="cruxeval: output (CRUXEval-O) or input (CRUXEval-I) prediction")
    _kernel_args(sub)
    return parser


def _kernel_args(sub: Any) -> None:
    """`cibench kernel install|check`: the evaluation kernel's own environment (docs/kernel.md)."""
    kern = sub.add_parser("kernel", help="install or check the evaluation kernel's environment")
    ksub = kern.add_subparsers(dest="kernel_command", required=True, metavar="ACTION",
                               parser_class=_Parser)
    inst = ksub.add_parser("install", help="build the kernel's virtualenv from pinned "
                                           "requirements and use it for every kernel")
    inst.add_argument("--profile", default="default",
                      help="kernels/requirements-PROFILE.txt: default or full (default: default)")
    inst.add_argument("--path", type=Path, help="where the env goes (default: "
                      "/opt/cibench/kernels/PROFILE as root, else "
                      "~/.local/share/cibench/kernels/PROFILE)")
    inst.add_argument("--requirements", type=Path, metavar="FILE",
                      help="build from this requirements file instead of the profile's")
    inst.add_argument("--base-python", metavar="PYTHON",
                      help="interpreter the env is made from (default: this one, or a system "
                           "python of the same version that other uids can run)")
    inst.add_argument("--installer", choices=["auto", "uv", "pip"], default="auto",
                      help="auto: uv when installed (default)")
    inst.add_argument("--force", action="store_true", help="rebuild even if up to date")
    inst.add_argument("--no-register", action="store_true",
                      help="don't make it the kernel cibench uses")
    chk = ksub.add_parser("check", help="the version of every pinned module in the kernel's "
                                        "Python; exit 1 when one is missing")
    chk.add_argument("--python", metavar="PATH",
                     help="check this interpreter (default: the one kernels run)")
    chk.add_argument("--profile", help="check against this profile's pins (default: the "
                                       "env's own, or default)")


def _agent_options(args: argparse.Namespace) -> AgentOptions:
    return AgentOptions(protocol=args.protocol, api_base=args.api_base,
                        api_key_env=args.api_key_env, temperature=args.temperature,
                        max_tokens=args.max_tokens, seed=args.seed,
                        model_args=dict(args.model_arg), retries=args.retries,
                        images=args.images, feedback_chars=args.feedback_chars,
                        module_hint=not args.no_module_hint, price=args.price,
                        cache=not args.no_cache)


def run_options(args: argparse.Namespace) -> RunOptions:
    """The RunOptions that `cibench run` builds from its parsed flags."""
    from .runner import RunOptions

    limits = KernelLimits.default(
        jobs=args.jobs, memory_mb=-1 if args.memory_limit is None else args.memory_limit)
    limits = dataclasses.replace(limits, cpu_seconds=args.cpu_limit or None)
    settings = SessionSettings(limits=limits, caps=OutputCaps(), keep_scratch=args.keep_scratch,
                               sandbox=SandboxOptions(user=args.kernel_user,
                                                      network=not args.no_network),
                               interrupt_grace=args.interrupt_grace)
    return RunOptions(paths=args.paths, models=args.models or ["local"], mode=args.mode,
                      out=args.out, oracle_dir=args.oracle_dir, attempts=args.attempts,
                      timeout=args.timeout, scoring=args.scoring, jobs=args.jobs,
                      run_id=args.run_id, agent=_agent_options(args), settings=settings,
                      samples=args.samples, vis_judge=_vis_judge(args),
                      progress=make_progress(not args.quiet))


def parse_run_options(argv: list[str]) -> RunOptions:
    """RunOptions from `cibench run` arguments (`["notebooks/demo", "--model", "oracle"]`), checked
    the way the command line checks them; for notebooks and scripts driving cibench in Python."""
    import contextlib
    import io

    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            args = build_parser().parse_args(["run", *argv])
    except SystemExit:
        raise CibenchError(said.getvalue().strip().splitlines()[-1] if said.getvalue().strip()
                           else f"bad `cibench run` arguments: {argv}") from None
    return run_options(args)


RESULT_COLUMNS = (("tool_rate", "Tool"), ("exec_rate", "Exe"), ("num_acc", "Num"),
                  ("text_score", "Text"), ("vis_score", "Vis"), ("check_rate", "Check"))


def _print_summary(summary: dict[str, Any], out: Path) -> None:
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


async def _main(args: argparse.Namespace) -> int:
    if args.command == "kernel":
        from . import kernel_env
        return await asyncio.to_thread(kernel_env.main, args)
    from .preflight import preflight_tasks
    from .runner import prepare_truth, rescore, run_benchmark
    from .task import load_tasks

    if args.command == "validate":
        from .fsutil import check_folder_arg
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
            from .validation import validation_table, write_table
            table = await validation_table(tasks, truths, invalid, waiting, all_tasks=all_tasks,
                                           jobs=args.jobs)
            write_table(args.report, table)
            print(f"validation table in {args.report}")
        if invalid:
            print(f"cibench: error: {len(invalid)} of {len(tasks)} tasks failed validation",
                  file=sys.stderr)
            return 2
        return 0
    if args.command == "run":
        opts = run_options(args)
        try:
            result = await run_benchmark(opts)
        finally:
            opts.progress.close()
        _print_summary(result.summary, result.out)
        if not args.no_report:
            from .report import write_report
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
    if args.command == "score":
        result = await rescore(args.run_dir, args.oracle_dir, args.scoring, _vis_judge(args))
        _print_summary(result.summary, result.out)
        return 0
    if args.command == "batch":
        import shlex

        from .batch import run_batch
        params = {"suites": args.paths, "models": args.models or ["local"],
                  "modes": args.modes or ["e2e", "oracle"], "out_root": str(args.out_root),
                  "oracle_dir": str(args.oracle_dir), "scoring": args.scoring,
                  "report": str(args.report), "extra_args": shlex.split(args.extra)}
        executed = await asyncio.to_thread(run_batch, params, args.executed)
        print(f"batch notebook {executed}; report in {args.report / 'index.html'}")
        return 0
    if args.command == "report":
        from .report import write_report
        if args.out.suffix.lower() in (".md", ".json", ".html"):
            folder = args.out.with_suffix("")
            print(f"--out {args.out}: --out is now a folder; writing the report into {folder}/",
                  file=sys.stderr)
            args.out = folder
        report = write_report(args.run_dirs, args.out)
        for entry in report["leaderboard"]:
            print(" ".join(f"{k}={v}" for k, v in entry.items() if v is not None))
        print(args.out / "index.html")
        return 0
    if args.command == "export-answers":
        from .export import export_answers
        target, rows, sessions = export_answers(args.run_dir, args.out, args.model)
        print(f"wrote {rows} answers of {sessions} sessions to {target}")
        return 0
    if args.command == "import":
        from .importers import ImportOptions, import_suite
        imported = import_suite(args.kind, args.src, ImportOptions(
            out=args.out, language=args.language, include_incomplete=args.include_incomplete,
            limit=args.limit, ids=args.ids, task=args.task))
        print(imported.summary())
        return 0
    raise AssertionError(args.command)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.debug else logging.WARNING if args.quiet else logging.INFO
    if sys.stderr.isatty():  # log lines print above the live progress bar
        from rich.logging import RichHandler

        logging.basicConfig(level=level, format="%(name)s: %(message)s", datefmt="%H:%M:%S",
                            handlers=[RichHandler(console=console(), show_path=False,
                                                  markup=False, rich_tracebacks=False)])
    else:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                            datefmt="%H:%M:%S")
    if not args.debug:
        for noisy in ("traitlets", "asyncio", "LiteLLM", "httpx", "jupyter_client"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return asyncio.run(_main(args))
    except CibenchError as exc:
        if args.debug:
            raise
        print(f"cibench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cibench: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or an environment problem: one line, traceback on --debug
        if args.debug:
            raise
        text = (str(exc).strip().splitlines() or [""])[0][:300]
        print(f"cibench: internal error: {type(exc).__name__}: {text} (rerun with --debug for "
              "the traceback; please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
