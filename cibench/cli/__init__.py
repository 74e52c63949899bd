"""The `cibench` command line: validate, run, score, batch, report, export-answers, import,
kernel. The only place that configures logging and the only `asyncio.run`.

    parser.py      the argument parser, one sub-parser per command
    run_flags.py   the flags of `cibench run` and the RunOptions they make
    values.py      the checked values flags take (numbers in range, names a registry knows)
    commands.py    one function per command
"""

from __future__ import annotations

import asyncio
import logging
import sys

from ..errors import CibenchError
from ..progress import console
from .commands import COMMANDS
from .parser import build_parser, parse_run_options
from .run_flags import run_options

__all__ = ["build_parser", "main", "parse_run_options", "run_options"]


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
        return asyncio.run(COMMANDS[args.command](args))
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
