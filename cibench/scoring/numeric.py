"""Numeric answer matching for ``num`` steps.

Two profiles:

* :func:`num_match` (DEFAULT) extracts every number from the expected and the
  found output and requires each expected number to be present among the found
  numbers (as a multiset, order-insensitive, with a relative/absolute
  tolerance).  It understands numpy-2 scalar reprs (``np.float64(4.0)``),
  ``array([...])``, ``Decimal('1.5')``, ``Fraction(1, 3)``, scientific
  notation, percentages, thousands separators, ``nan``/``inf``.
* :func:`num_match_cibench` (CIBENCH) reproduces OpenCompass' ``correct_step``:
  stripped equality, or the stripped expected text being a *substring* of the
  stripped found text.  Its known false positive ("15" matches "1599") is kept
  on purpose.

Departures of the default from CIBench: numbers are compared as numbers
(so "6" never matches "16", "150" matches "np.int64(150)", "4" matches "4.0"),
with tolerance; extra text or extra numbers in the found output are allowed.
"""

from __future__ import annotations

import bisect
import logging
import math
import re
from dataclasses import dataclass

logger = logging.getLogger(__name__)

__all__ = ["parse_numbers", "num_match", "num_match_cibench"]

# A number may not be glued to a preceding word character or dot: this drops
# the "64" of "float64", the "1" of "col1" and the tail of version strings.
_NUM_RE = re.compile(
    r"""
    (?<![\w.])
    (?P<sign>[-+\u2212](?=[\d.]))?            # sign only when a digit follows
    (?P<body>
        (?<!\d,)\d{1,3}(?:,\d{3})+(?![\d])(?!,\d)(?:\.\d+)?   # 1,234,567.89
      | \d+\.?\d*(?:[eE][-+]?\d+)?                            # 12 12. 12.5 1e-3
      | \.\d+(?:[eE][-+]?\d+)?                                # .5
    )
    (?P<pct>\s?%)?
    """,
    re.VERBOSE,
)
# A sign counts only when it is not preceded by something that makes it an
# operator or a separator (dates "2020-01-05", ranges "3-5", "x-1").
_SIGN_BLOCKERS = set("0123456789)]}_") | set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SPECIAL_RE = re.compile(
    r"(?<![A-Za-z_])(?P<sign>[-+\u2212])?(?P<word>nan|inf(?:inity)?)(?![A-Za-z_0-9])",
    re.IGNORECASE,
)
_FRACTION_RE = re.compile(r"Fraction\(\s*([-+]?\d+)\s*,\s*([-+]?\d+)\s*\)")
_NP_BOOL_RE = re.compile(r"\bnp\.(True|False)_")
_NP_STR_RE = re.compile(r"\bnp\.(?:str_|bytes_)\((.*?)\)", re.DOTALL)


@dataclass(frozen=True)
class _Num:
    """One number found in a text; ``percent`` when written as ``12.5%``."""

    value: float
    percent: bool = False
    text: str = ""


def _scan(text: str) -> list[_Num]:
    """Return the numbers of ``text`` in order of appearance."""
    found: list[tuple[int, _Num]] = []
    masked = list(text)

    def mask(start: int, end: int) -> None:
        for i in range(start, end):
            masked[i] = " "

    for m in _FRACTION_RE.finditer(text):
        num, den = int(m.group(1)), int(m.group(2))
        value = num / den if den else math.copysign(math.inf, num)
        found.append((m.start(), _Num(value, text=m.group(0))))
        mask(m.start(), m.end())

    for m in _SPECIAL_RE.finditer("".join(masked)):
        word = m.group("word").lower()
        value = math.nan if word == "nan" else math.inf
        if m.group("sign") in ("-", "\u2212"):
            value = -value
        found.append((m.start(), _Num(value, text=m.group(0))))
        mask(m.start(), m.end())

    scan_text = "".join(masked)
    for m in _NUM_RE.finditer(scan_text):
        body = m.group("body").replace(",", "")
        try:
            value = float(body)
        except ValueError:  # pragma: no cover - regex guarantees a float
            continue
        sign = m.group("sign")
        if sign and m.start() > 0 and scan_text[m.start() - 1] in _SIGN_BLOCKERS:
            sign = None
        if sign in ("-", "\u2212"):
            value = -value
        found.append((m.start(), _Num(value, percent=bool(m.group("pct")), text=m.group(0))))
    found.sort(key=lambda item: item[0])
    return [num for _, num in found]


def parse_numbers(text: str) -> list[float]:
    """Extract the numbers written in ``text``, in order.

    Handles ints, floats, ``1e-3``, ``1,234`` (comma groups of exactly three
    digits; ``1,2`` is two numbers), ``12.5%`` (returned as ``12.5``; the
    percent sign is remembered internally by :func:`num_match`), signs (not
    after a digit or letter, so dates and ranges stay positive), numpy reprs
    (``np.float64(4.0)`` gives ``[4.0]``, the ``64`` of ``float64`` is not a
    number), ``array([1, 2.5])``, ``Decimal('1.5')``, ``Fraction(1, 3)``,
    ``nan``/``inf``/``-inf``.  ``True``/``False`` are not numbers, neither are
    digits glued to a word (``col1``, ``int64``).  Plain ``1/3`` is read as two
    numbers.
    """
    return [n.value for n in _scan(text)]


def _normalize_text(text: str) -> str:
    """Whitespace-collapsed text with numpy-2 scalar reprs unwrapped."""
    text = _NP_BOOL_RE.sub(r"\1", text)
    text = _NP_STR_RE.sub(r"\1", text)
    text = " ".join(text.split())
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    return text


def _close(a: float, b: float, rel_tol: float, abs_tol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)


def _candidates(exp: _Num) -> list[float]:
    """Values an expected number may take: a percent may also be a fraction."""
    return [exp.value, exp.value / 100.0] if exp.percent else [exp.value]


def _matches(exp: _Num, got: _Num, rel_tol: float, abs_tol: float) -> bool:
    got_values = [got.value, got.value / 100.0] if got.percent else [got.value]
    return any(_close(e, g, rel_tol, abs_tol) for e in _candidates(exp) for g in got_values)


def _assign(
    expected: list[_Num], found: list[_Num], rel_tol: float, abs_tol: float
) -> list[int | None]:
    """Bipartite matching expected -> distinct found (Kuhn's algorithm).

    Returns, per expected number, the index of the found number it uses, or
    ``None`` when it stays unmatched.
    """
    # Candidate lists via a sorted index to avoid an all-pairs scan.
    order = sorted(range(len(found)), key=lambda i: _sort_key(found[i].value))
    keys = [_sort_key(found[i].value) for i in order]
    edges: list[list[int]] = []
    for exp in expected:
        cand: set[int] = set()
        probes = list(_candidates(exp))
        probes += [v * 100.0 for v in probes]  # found written as a percent
        for probe in probes:
            if math.isnan(probe):
                lo_key, hi_key = (2, 0.0), (2, 0.0)
            else:
                tol = max(abs_tol, rel_tol * abs(probe) / max(1e-300, 1 - rel_tol))
                lo_key, hi_key = _sort_key(probe - tol), _sort_key(probe + tol)
            lo = bisect.bisect_left(keys, lo_key)
            hi = bisect.bisect_right(keys, hi_key)
            cand.update(order[k] for k in range(lo, hi))
        edges.append(sorted(i for i in cand if _matches(exp, found[i], rel_tol, abs_tol)))

    owner: dict[int, int] = {}

    def try_assign(e: int, seen: set[int]) -> bool:
        for f in edges[e]:
            if f in seen:
                continue
            seen.add(f)
            if f not in owner or try_assign(owner[f], seen):
                owner[f] = e
                return True
        return False

    for e in range(len(expected)):
        try_assign(e, set())
    result: list[int | None] = [None] * len(expected)
    for f, e in owner.items():
        result[e] = f
    return result


def _sort_key(value: float) -> tuple[int, float]:
    """Total order with nan last (nan compares equal to itself only)."""
    return (2, 0.0) if math.isnan(value) else (1, value)


def _fmt(num: _Num) -> str:
    if math.isnan(num.value) or math.isinf(num.value):
        return str(num.value)
    text = f"{num.value:.10g}"
    return text + ("%" if num.percent else "")


def _closest(exp: _Num, found: list[_Num]) -> _Num | None:
    finite = [f for f in found if not math.isnan(f.value)]
    if not finite or math.isnan(exp.value):
        return finite[0] if finite else None
    return min(finite, key=lambda f: abs(f.value - exp.value))


def num_match(
    expected: str, found: str, *, rel_tol: float = 1e-6, abs_tol: float = 1e-9
) -> tuple[bool, str]:
    """DEFAULT numeric profile: every expected number must appear in ``found``.

    Each number of ``expected`` must be matched by a distinct number of
    ``found`` (multiset, any order) within ``math.isclose(rel_tol, abs_tol)``.
    Extra numbers and text in ``found`` are ignored.  ``nan`` matches ``nan``.
    Percentages: a number written ``50%`` on either side also matches its
    fraction ``0.5`` on the other side (and ``50``).  When ``expected`` holds no
    number, the two texts are compared for equality after collapsing
    whitespace, unwrapping numpy-2 reprs (``np.True_``, ``np.str_('a')``) and
    dropping one pair of surrounding quotes.

    Returns ``(matched, explanation)``; the explanation is one line such as
    ``"expected 5.55, found 5.6"``.
    """
    exp_nums = _scan(expected)
    if not exp_nums:
        ok = _normalize_text(expected) == _normalize_text(found)
        if ok:
            return True, "no number expected; text equal"
        return (
            False,
            f"no number expected; text differs: expected {_short(expected)!r}, "
            f"found {_short(found)!r}",
        )
    got_nums = _scan(found)
    if not got_nums:
        return False, f"expected {_list(exp_nums)}, found no number"
    assignment = _assign(exp_nums, got_nums, rel_tol, abs_tol)
    missing = [exp_nums[i] for i, f in enumerate(assignment) if f is None]
    if not missing:
        if len(exp_nums) == 1:
            return True, f"expected {_fmt(exp_nums[0])}, found {_fmt(got_nums[assignment[0]])}"  # type: ignore[index]
        return True, f"all {len(exp_nums)} expected numbers found"
    first = missing[0]
    near = _closest(first, got_nums)
    near_text = _fmt(near) if near is not None else "nothing close"
    if len(exp_nums) == 1:
        return False, f"expected {_fmt(first)}, found {near_text}"
    return False, (
        f"{len(missing)} of {len(exp_nums)} expected numbers missing, "
        f"e.g. expected {_fmt(first)}, closest found {near_text}"
    )


def _list(nums: list[_Num], limit: int = 5) -> str:
    head = ", ".join(_fmt(n) for n in nums[:limit])
    return head + (f", ... ({len(nums)} numbers)" if len(nums) > limit else "")


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def num_match_cibench(expected: str, found: str) -> tuple[bool, str]:
    """CIBENCH numeric profile, faithful to OpenCompass ``correct_step``.

    ``found.strip() == expected.strip() or expected.strip() in found.strip()``.
    Known false positives are kept: "15" matches "1599", "6" matches "16", and
    an empty expected output matches anything.  No tolerance: "4" does not
    match "4.0" and "150" matches "np.int64(150)" only through the substring
    rule.  (The oldest OpenCompass revision tested the other direction,
    ``out in target``; the current one, reproduced here, tests target in out.)
    """
    exp, got = expected.strip(), found.strip()
    if got == exp:
        return True, "equal after strip"
    if exp in got:
        return True, f"expected {_short(exp)!r} is a substring of the output"
    return False, f"expected {_short(exp)!r} not in output {_short(got)!r}"
