"""The `cibench` argument parser: one sub-parser per command (the flags of `cibench run` are in
run_flags.py), with one-line errors."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..errors import CibenchError
from .run_flags import add_run_flags, add_vis_judge_flags, run_options
from .values import positive_int, scoring_profile

if TYPE_CHECKING:
    from ..runner import RunOptions


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error (naming the flag and pointing at --help), exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


EXAMPLES = """examples:
  cibench run notebooks/demo                          # the embedded local model, no API key
  cibench run notebooks/demo --model gpt-4o --mode oracle --out sessions/gpt4o
  cibench report sessions/gpt4o --out reports/out     # tables, figures, links to sessions

`cibench COMMAND --help` lists a command's flags; the README has a tour."""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="cibench", description="Evaluate LLM agents that use a Jupyter code interpreter.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXAMPLES)
    parser.add_argument("--version", action="version", version=f"cibench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=Parser)
    add_validate_parser(sub)
    add_run_flags(sub.add_parser("run", help="run models through task notebooks and score them"))
    add_score_parser(sub)
    add_batch_parser(sub)
    add_report_parsers(sub)
    add_import_parser(sub)
    add_kernel_parsers(sub)
    return parser


def add_validate_parser(sub: Any) -> None:
    val = sub.add_parser("validate", help="execute task references and store ground truth")
    val.add_argument("paths", nargs="+", help="task notebooks or folders of them")
    val.add_argument("--oracle-dir", type=Path, default=Path("oracle"),
                     help="where ground truth lives (default ./oracle)")
    val.add_argument("--rebuild", action="store_true", help="rebuild even if current")
    val.add_argument("--jobs", type=positive_int, default=2, help="tasks at once (default 2)")
    val.add_argument("--report", type=Path, metavar="FILE.md",
                     help="also write a table per split × module (validated, needs assets, "
                          "needs network, missing module, reference error, non-deterministic: "
                          "validated tasks run their references a second time to tell)")


def add_score_parser(sub: Any) -> None:
    score = sub.add_parser("score", help="re-score a run folder without a model or kernel")
    score.add_argument("run_dir", type=Path)
    score.add_argument("--scoring", type=scoring_profile,
                       help="profile to score with (default: the run's own)")
    score.add_argument("--oracle-dir", type=Path, default=Path("oracle"))
    add_vis_judge_flags(score)


def add_batch_parser(sub: Any) -> None:
    """`cibench batch`: a grid of models × modes as a papermill notebook (batch.py)."""
    batch = sub.add_parser("batch", help="a grid of models × modes run as a papermill notebook")
    batch.add_argument("paths", nargs="+", help="task suites or notebooks")
    batch.add_argument("--model", action="append", dest="models", metavar="MODEL")
    batch.add_argument("--mode", action="append", dest="modes", choices=["e2e", "oracle"])
    batch.add_argument("--out-root", type=Path, default=Path("sessions/batch"),
                       help="one run folder per mode below this (default sessions/batch)")
    batch.add_argument("--oracle-dir", type=Path, default=Path("oracle"))
    batch.add_argument("--scoring", type=scoring_profile, default="default")
    batch.add_argument("--report", type=Path, default=Path("reports/out/batch"))
    batch.add_argument("--executed", type=Path, default=Path("reports/out/batch.ipynb"),
                       help="where the executed batch notebook goes")
    batch.add_argument("--extra", default="", help="more `cibench run` flags, quoted")


def add_report_parsers(sub: Any) -> None:
    """`cibench report` and `cibench export-answers`: what is made from run folders."""
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


def add_import_parser(sub: Any) -> None:
    imp = sub.add_parser("import", help="turn another benchmark into a task suite "
                                        "(cibench, cruxeval, qwen-agent, pybench)")
    imp.add_argument("kind", help="importer: cibench, cruxeval, qwen-agent or pybench")
    imp.add_argument("src", type=Path, help="the benchmark's files (see docs/importers.md)")
    imp.add_argument("--out", type=Path, required=True, help="suite folder, e.g. notebooks/cruxeval")
    imp.add_argument("--language", choices=["en", "zh"], default="en")
    imp.add_argument("--include-incomplete", action="store_true",
                     help="also write tasks that need assets or have no reference")
    imp.add_argument("--limit", type=positive_int, help="at most this many tasks")
    imp.add_argument("--ids", nargs="+", metavar="ID", help="only these source ids")
    imp.add_argument("--task", choices=["output", "input"], default="output",
                     help="cruxeval: output (CRUXEval-O) or input (CRUXEval-I) prediction")


def add_kernel_parsers(sub: Any) -> None:
    """`cibench kernel install|check`: the evaluation kernel's own environment (docs/kernel.md)."""
    kern = sub.add_parser("kernel", help="install or check the evaluation kernel's environment")
    ksub = kern.add_subparsers(dest="kernel_command", required=True, metavar="ACTION",
                               parser_class=Parser)
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
