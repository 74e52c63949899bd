"""The flags of `cibench run` and the RunOptions they make: the one place to add a run flag
(`add_run_flags`, then read it in `run_options`)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..agents.base import AgentOptions
from ..concurrency import default_jobs
from ..errors import UsageError
from ..kernel import INTERRUPT_GRACE, OutputCaps
from ..limits import KernelLimits
from ..progress import make_progress
from ..sandbox import SandboxOptions
from ..session import SessionSettings
from .values import (
    cpu_limit,
    kernel_user,
    memory_limit,
    model_arg,
    price,
    protocol,
    ranged,
    run_id_name,
    scoring_profile,
)

if TYPE_CHECKING:
    from ..runner import RunOptions

log = logging.getLogger(__name__)


def add_run_flags(run: argparse.ArgumentParser) -> None:
    """Every flag of `cibench run`: what to run and how many at once here; the sandbox, the
    model calls and the vision judge in their own groups."""
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
    run.add_argument("--run-id", type=run_id_name,
                     help="name of the run (default: UTC timestamp); a plain folder name")
    run.add_argument("--oracle-dir", type=Path, default=Path("oracle"))
    run.add_argument("--attempts", type=ranged(int, 1, 100), default=3,
                     help="tries per step; a step ends at its first attempt that runs (default 3)")
    run.add_argument("--timeout", type=ranged(float, 0, 7 * 24 * 3600, low_open=True),
                     default=60.0,
                     help="seconds per cell before it is interrupted (default 60)")
    run.add_argument("--scoring", type=scoring_profile, default="default",
                     help="scoring profile (see docs/scoring.md)")
    run.add_argument("--jobs", type=ranged(int, 1, 1024), default=None,
                     help="sessions in flight, each in its own kernel (default: from the machine "
                          "and the model: a session per core for oracle/replayed/embedded "
                          "models, 4 per core for a remote model, bounded by memory)")
    run.add_argument("--executor", choices=["local", "ray"], default="local",
                     help="where sessions run: this process (default), or Ray workers "
                          "(pip install 'cibench[ray]'; docs/ray.md)")
    run.add_argument("--address", metavar="ADDR",
                     help="with --executor ray: the cluster (ray://HOST:10001, HOST:6379, auto); "
                          "default: start a local Ray instance for the run")
    add_sandbox_flags(run)
    run.add_argument("--no-report", action="store_true",
                     help="don't write the HTML report into OUT/report/ at the end")
    add_model_call_flags(run)
    add_vis_judge_flags(run)


def add_sandbox_flags(run: argparse.ArgumentParser) -> None:
    box = run.add_argument_group("sandbox (see docs/sandbox.md)")
    box.add_argument("--memory-limit", type=memory_limit, metavar="MB",
                     help="address-space limit of each kernel in MiB; 0 for none (default: 80%% "
                          "of physical memory split over --jobs, at least 1024)")
    box.add_argument("--cpu-limit", type=cpu_limit, default=3600, metavar="S",
                     help="CPU seconds a kernel process may use before it is killed and "
                          "restarted; 0 for none (default 3600)")
    box.add_argument("--no-network", action="store_true",
                     help="run kernels in an empty network namespace (no network at all)")
    box.add_argument("--kernel-user", type=kernel_user, default="auto", metavar="USER",
                     help="auto: when run as root, each kernel runs as a uid of its own; off: as "
                          "the invoking user; or a user name/uid (default auto)")
    box.add_argument("--interrupt-grace", type=ranged(float, 0, 3600, low_open=True),
                     default=INTERRUPT_GRACE,
                     metavar="S", help="seconds an interrupted cell gets to stop before the "
                                       f"kernel is restarted (default {INTERRUPT_GRACE:g})")
    box.add_argument("--keep-scratch", action="store_true",
                     help="keep each session's working directory (for debugging)")


def add_model_call_flags(run: argparse.ArgumentParser) -> None:
    llm = run.add_argument_group("model calls")
    llm.add_argument("--protocol", type=protocol, default="react",
                     help="how the conversation is shown to the model (default react)")
    llm.add_argument("--api-base", help="OpenAI-compatible server URL, e.g. http://host/v1")
    llm.add_argument("--api-key-env", metavar="VAR",
                     help="environment variable that holds the API key")
    llm.add_argument("--temperature", type=ranged(float, 0, 2), default=0.0,
                     help="sampling temperature, 0 to 2 (default 0)")
    llm.add_argument("--max-tokens", type=ranged(int, 1, 10 ** 7), default=512,
                     help="new tokens per model turn (default 512, as CIBench)")
    llm.add_argument("--seed", type=ranged(int, 0, 2 ** 63 - 1))
    llm.add_argument("--model-arg", type=model_arg, action="append", default=[],
                     metavar="KEY=VALUE", help="extra litellm parameter (JSON value or string)")
    llm.add_argument("--retries", type=ranged(int, 0, 100), default=5,
                     help="retries on 429/5xx/timeouts (default 5)")
    llm.add_argument("--no-cache", action="store_true", help="do not use the response cache")
    llm.add_argument("--feedback-chars", type=ranged(int, 1, 10 ** 7), default=1024,
                     help="characters of tool output sent back (default 1024, as CIBench)")
    llm.add_argument("--images", action="store_true",
                     help="send produced figures to vision models")
    llm.add_argument("--no-module-hint", action="store_true",
                     help="do not append 'Please use … modules.' to instructions")
    llm.add_argument("--price", type=price, metavar="IN,OUT",
                     help="USD per million tokens in and out, for models litellm has no price for")
    llm.add_argument("--samples", type=ranged(int, 1, 10_000), default=1, metavar="N",
                     help="answer each task N times in fresh kernels and report pass@1/5/N "
                          "(use with --temperature > 0; see docs/scoring.md)")


def add_vis_judge_flags(parser: argparse.ArgumentParser) -> None:
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


def vis_judge_params(args: argparse.Namespace) -> dict[str, Any] | None:
    if not getattr(args, "vis_judge", None):
        return None
    from ..vis_judge import JudgeSettings
    return JudgeSettings(model=args.vis_judge, variant=args.vis_judge_variant,
                         api_base=args.vis_judge_api_base,
                         api_key_env=args.vis_judge_key_env).as_params()


def agent_options(args: argparse.Namespace) -> AgentOptions:
    return AgentOptions(protocol=args.protocol, api_base=args.api_base,
                        api_key_env=args.api_key_env, temperature=args.temperature,
                        max_tokens=args.max_tokens, seed=args.seed,
                        model_args=dict(args.model_arg), retries=args.retries,
                        images=args.images, feedback_chars=args.feedback_chars,
                        module_hint=not args.no_module_hint, price=args.price,
                        cache=not args.no_cache)


def run_options(args: argparse.Namespace) -> RunOptions:
    """The RunOptions that `cibench run` builds from its parsed flags."""
    from ..runner import RunOptions

    models = args.models or ["local"]
    if args.address and args.executor != "ray":
        raise UsageError("--address names a Ray cluster", hint="add --executor ray")
    jobs = args.jobs
    if jobs is None:
        jobs, why = default_jobs(models)
        log.info("--jobs %d (%s)", jobs, why)
    limits = KernelLimits.default(
        jobs=jobs, memory_mb=-1 if args.memory_limit is None else args.memory_limit)
    limits = dataclasses.replace(limits, cpu_seconds=args.cpu_limit or None)
    settings = SessionSettings(limits=limits, caps=OutputCaps(), keep_scratch=args.keep_scratch,
                               sandbox=SandboxOptions(user=args.kernel_user,
                                                      network=not args.no_network),
                               interrupt_grace=args.interrupt_grace)
    return RunOptions(paths=args.paths, models=models, mode=args.mode,
                      out=args.out, oracle_dir=args.oracle_dir, attempts=args.attempts,
                      timeout=args.timeout, scoring=args.scoring, jobs=jobs,
                      executor=args.executor, address=args.address,
                      run_id=args.run_id, agent=agent_options(args), settings=settings,
                      samples=args.samples, vis_judge=vis_judge_params(args),
                      progress=make_progress(not args.quiet))
