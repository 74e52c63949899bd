"""The values `cibench` flags take: each an argparse type that checks its text and fails with a
one-line message naming what is wrong (argparse adds the flag)."""

from __future__ import annotations

import argparse
import json
import math
import re
from collections.abc import Callable
from typing import Any

from ..errors import CibenchError
from ..limits import SMALLEST_MEMORY_MB

RUN_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def model_arg(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--model-arg {text!r}: expected key=value")
    key, value = text.split("=", 1)

    def no_constant(name: str) -> Any:
        raise argparse.ArgumentTypeError(f"{text!r}: {name} is not a finite number")
    try:
        return key, json.loads(value, parse_constant=no_constant)
    except json.JSONDecodeError:
        return key, value


def number(text: str, kind: type = float, low: float | None = None,
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


def ranged(kind: type = float, low: float | None = None, high: float | None = None,
            low_open: bool = False) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        return number(text, kind, low, high, low_open)
    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


def price(text: str) -> tuple[float, float]:
    parts = text.split(",")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"{text!r}: expected IN,OUT in USD per million tokens, "
                                         "e.g. 2.5,10")
    try:
        a, b = (number(x.strip(), float, 0, 1e6) for x in parts)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc} (expected IN,OUT in USD per "
                                         "million tokens, e.g. 2.5,10)") from None
    return a, b


def positive_int(text: str) -> int:
    return number(text, int, 1, 10 ** 9)


def positive_float(text: str) -> float:
    return number(text, float, 0, 10 ** 7, low_open=True)


def run_id_name(text: str) -> str:
    """A run id is a folder name under sessions/: no path, no `..`, no hidden names."""
    if not RUN_ID_RE.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a plain name (letters, digits, '.', '_', '-'; no '/', no leading "
            "'.'; up to 128 characters)")
    return text


def kernel_user(text: str) -> str:
    """auto, off, a user name that exists, or a uid (checked before anything is written)."""
    if text in ("auto", "off"):
        return text
    if text.isdigit():
        number(text, int, 0, 2 ** 32 - 2)
        return text
    import pwd
    try:
        pwd.getpwnam(text)
    except KeyError:
        raise argparse.ArgumentTypeError(f"no such user {text!r} (use auto, off, a user name "
                                         "or a numeric uid)") from None
    return text


def registered(kind: str, lookup: Callable[[str], Any]) -> Callable[[str], str]:
    """An argparse type: a name its registry knows (built-ins and installed plugins)."""
    def check(text: str) -> str:
        try:
            lookup(text)
        except CibenchError as exc:
            raise argparse.ArgumentTypeError(exc.message) from None
        return text
    check.__name__ = kind
    return check


def scoring_profile(text: str) -> str:
    from ..scoring.scorer import get_profile
    return registered("scoring profile", get_profile)(text)


def protocol(text: str) -> str:
    from ..agents.protocols import get_protocol
    return registered("protocol", get_protocol)(text)



def limit(text: str) -> int:
    """A resource limit: a whole number, 0 meaning none."""
    return number(text, int, 0, 10 ** 9)


def memory_limit(text: str) -> int:
    value = limit(text)
    if 0 < value < SMALLEST_MEMORY_MB:
        raise argparse.ArgumentTypeError(f"{text!r} MiB cannot start a kernel: use 0 (no limit) "
                                         f"or at least {SMALLEST_MEMORY_MB}")
    return value


def cpu_limit(text: str) -> int:
    value = limit(text)
    if 0 < value < 10:
        raise argparse.ArgumentTypeError(f"{text!r} s cannot start a kernel: use 0 (no limit) "
                                         "or at least 10")
    return value
