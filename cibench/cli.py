"""The `cibench` command line: validate, run, score. The only place that configures logging
and the only `asyncio.run`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

from . import __version__
from .agents.base import AgentOptions
from .errors import CibenchError
from .kernel import KernelLimits, OutputCaps
from .session import SessionSettings

log = logging.getLogger("cibench")


def _model_arg(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--model-arg {text!r}: expected key=value")
    key, value = text.split("=", 1)
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _price(text: str) -> tuple[float, float]:
    try:
        a, b = (float(x) for x in text.split(","))
        return a, b
    except ValueError:
        raise argparse.ArgumentTypeError(f"--price {text!r}: expected IN,OUT in USD per "
                                         "million tokens, e.g. 2.5,10") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cibench", description="Evaluate LLM agents that use a Jupyter code interpreter.")
    parser.add_argument("--version", action="version", version=f"cibench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    val = sub.add_parser("validate", help="execute task references and store ground truth")
    val.add_argument("paths", nargs="+", help="task notebooks or folders of them")
    val.add_argument("--oracle-dir", type=Path, default=Path("oracle"),
                     help="where ground truth lives (default ./oracle)")
    val.add_argument("--rebuild", action="store_true", help="rebuild even if current")
    val.add_argument("--jobs", type=_positive_int, default=2, help="tasks at once (default 2)")

    run = sub.add_parser("run", help="run models through task notebooks and score them")
    run.add_argument("paths", nargs="+", help="task notebooks or folders of them")
    run.add_argument("--model", action="append", dest="models", metavar="MODEL",
                     help="oracle, local, or any litellm model name; repeat for several "
                          "(default: local)")
    run.add_argument("--mode", choices=["e2e", "oracle"], default="e2e",
                     help="e2e: the model's own history and state carry on; oracle: every step "
                          "starts from the reference solutions of earlier steps")
    run.add_argument("--out", type=Path, help="run folder (default sessions/<run-id>); an "
                                              "existing one is resumed")
    run.add_argument("--run-id", help="name of the run (default: UTC timestamp)")
    run.add_argument("--oracle-dir", type=Path, default=Path("oracle"))
    run.add_argument("--attempts", type=_positive_int, default=3,
                     help="tries per step; a step ends at its first attempt that runs (default 3)")
    run.add_argument("--timeout", type=_positive_float, default=60.0,
                     help="seconds per cell before it is interrupted (default 60)")
    run.add_argument("--scoring", choices=["default", "cibench"], default="default",
                     help="scoring profile (see docs/scoring.md)")
    run.add_argument("--jobs", type=_positive_int, default=2,
                     help="tasks run at once, each in its own kernel (default 2)")
    run.add_argument("--memory-limit", type=_positive_int, metavar="MB",
                     help="address-space limit of each kernel in MiB (default: none)")
    run.add_argument("--keep-scratch", action="store_true",
                     help="keep each session's working directory (for debugging)")
    llm = run.add_argument_group("model calls")
    llm.add_argument("--protocol", choices=["react", "tools", "markdown"], default="react",
                     help="how the conversation is shown to the model (default react)")
    llm.add_argument("--api-base", help="OpenAI-compatible server URL, e.g. http://host/v1")
    llm.add_argument("--api-key-env", metavar="VAR",
                     help="environment variable that holds the API key")
    llm.add_argument("--temperature", type=float, default=0.0)
    llm.add_argument("--max-tokens", type=_positive_int, default=512,
                     help="new tokens per model turn (default 512, as CIBench)")
    llm.add_argument("--seed", type=int)
    llm.add_argument("--model-arg", type=_model_arg, action="append", default=[],
                     metavar="KEY=VALUE", help="extra litellm parameter (JSON value or string)")
    llm.add_argument("--retries", type=int, default=5,
                     help="retries on 429/5xx/timeouts (default 5)")
    llm.add_argument("--no-cache", action="store_true", help="do not use the response cache")
    llm.add_argument("--feedback-chars", type=_positive_int, default=1024,
                     help="characters of tool output sent back (default 1024, as CIBench)")
    llm.add_argument("--images", action="store_true",
                     help="send produced figures to vision models")
    llm.add_argument("--no-module-hint", action="store_true",
                     help="do not append 'Please use … modules.' to instructions")
    llm.add_argument("--price", type=_price, metavar="IN,OUT",
                     help="USD per million tokens in and out, for models litellm has no price for")

    score = sub.add_parser("score", help="re-score a run folder without a model or kernel")
    score.add_argument("run_dir", type=Path)
    score.add_argument("--scoring", choices=["default", "cibench"],
                       help="profile to score with (default: the run's own)")
    score.add_argument("--oracle-dir", type=Path, default=Path("oracle"))

    batch = sub.add_parser("batch", help="a grid of models × modes run as a papermill notebook")
    batch.add_argument("paths", nargs="+", help="task suites or notebooks")
    batch.add_argument("--model", action="append", dest="models", metavar="MODEL")
    batch.add_argument("--mode", action="append", dest="modes", choices=["e2e", "oracle"])
    batch.add_argument("--out-root", type=Path, default=Path("sessions/batch"),
                       help="one run folder per mode below this (default sessions/batch)")
    batch.add_argument("--oracle-dir", type=Path, default=Path("oracle"))
    batch.add_argument("--scoring", choices=["default", "cibench"], default="default")
    batch.add_argument("--report", type=Path, default=Path("reports/out/batch"))
    batch.add_argument("--executed", type=Path, default=Path("reports/out/batch.ipynb"),
                       help="where the executed batch notebook goes")
    batch.add_argument("--extra", default="", help="more `cibench run` flags, quoted")

    rep = sub.add_parser("report", help="tables and a leaderboard over one or more run folders")
    rep.add_argument("run_dirs", nargs="+", type=Path)
    rep.add_argument("--out", type=Path, default=Path("reports/out/report"),
                     help="writes OUT.md and OUT.json (default reports/out/report)")
    return parser


def _agent_options(args: argparse.Namespace) -> AgentOptions:
    return AgentOptions(protocol=args.protocol, api_base=args.api_base,
                        api_key_env=args.api_key_env, temperature=args.temperature,
                        max_tokens=args.max_tokens, seed=args.seed,
                        model_args=dict(args.model_arg), retries=args.retries,
                        images=args.images, feedback_chars=args.feedback_chars,
                        module_hint=not args.no_module_hint, price=args.price,
                        cache=not args.no_cache)


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    for row in summary["results"]:
        metrics = ", ".join(f"{k} {v:.1f}" for k, v in row["metrics"].items() if v is not None)
        errors = f", {len(row['errors'])} errors" if row["errors"] else ""
        print(f"{row['model']} [{row['mode']}, {row['scoring']}]: {row['tasks']} tasks, "
              f"{row['steps']} steps{errors}: {metrics}")
    print(f"sessions and summary.json in {out}")


async def _main(args: argparse.Namespace) -> int:
    from .groundtruth import ensure_truth
    from .runner import RunOptions, rescore, run_benchmark
    from .task import load_tasks

    if args.command == "validate":
        tasks = load_tasks(args.paths)
        sem = asyncio.Semaphore(args.jobs)

        async def one(task: Any) -> None:
            async with sem:
                truth = await ensure_truth(task, args.oracle_dir, rebuild=args.rebuild)
                print(f"ok {task.id}: {len(truth.steps)} steps, ground truth in "
                      f"{args.oracle_dir / (task.id + '.json')}")
        await asyncio.gather(*(one(t) for t in tasks))
        return 0
    if args.command == "run":
        settings = SessionSettings(limits=KernelLimits(memory_mb=args.memory_limit),
                                   caps=OutputCaps(), keep_scratch=args.keep_scratch)
        opts = RunOptions(paths=args.paths, models=args.models or ["local"], mode=args.mode,
                          out=args.out, oracle_dir=args.oracle_dir, attempts=args.attempts,
                          timeout=args.timeout, scoring=args.scoring, jobs=args.jobs,
                          run_id=args.run_id, agent=_agent_options(args), settings=settings)
        result = await run_benchmark(opts)
        _print_summary(result.summary, result.out)
        if result.errors:
            print(f"{result.errors} sessions ended in an infrastructure error; run the same "
                  "command again to resume them", file=sys.stderr)
            return 1
        return 0
    if args.command == "score":
        result = await rescore(args.run_dir, args.oracle_dir, args.scoring)
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
        print(f"batch notebook {executed}; report in {args.report.with_suffix('.md')}")
        return 0
    if args.command == "report":
        from .report import write_report
        report = write_report(args.run_dirs, args.out)
        for entry in report["leaderboard"]:
            print(" ".join(f"{k}={v}" for k, v in entry.items() if v is not None))
        print(f"report in {args.out.with_suffix('.md')} and {args.out.with_suffix('.json')}")
        return 0
    raise AssertionError(args.command)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.debug else logging.WARNING if args.quiet else logging.INFO
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


if __name__ == "__main__":
    sys.exit(main())
