"""Score one recorded step against its ground truth under a scoring profile.

A profile picks the metric functions: `default` (numbers compared as numbers with tolerance,
ROUGE-L with a CJK-aware tokenizer, SSIM on RGB over white plus plotted-data comparison) or
`cibench` (OpenCompass's substring match, ROUGE-1, per-channel SSIM where any failure is 0).
Scoring reads only the `StepRecord` and the `TruthStep`: no kernel, no model.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..collector import clean_name
from ..records import Execution, StepRecord, StepScore
from ..registry import Registry
from .figure_data import figure_data_similarity
from .numeric import num_match, num_match_cibench
from .opencompass import interpreter_text, num_answer, reference_target, text_answer
from .text import text_score, text_score_cibench
from .visual import ssim_cibench, ssim_default

log = logging.getLogger(__name__)

NO_ANSWER = "no answer"  # replayed answers (--model answers:FILE) had nothing for the step
TEXT_PASS = 0.5  # a text step is shown as PASS at ROUGE F1 >= 0.5 (display only)
VIS_PASS = 0.9  # a vis step is shown as PASS at SSIM (or plotted-data similarity) >= 0.9


@dataclass(frozen=True)
class ScoringProfile:
    name: str
    num: Callable[..., tuple[bool, str]]
    text: Callable[[str, str], float]
    ssim: Callable[[bytes, bytes], float]
    vis_data: bool  # also compare the plotted data read from matplotlib artists
    tolerance: bool  # honour per-step `cibench.tolerance`
    # read num/text answers as OpenCompass does (scoring/opencompass.py): per-message blocks,
    # the 1,024-character cut, first execute_result/stdout block (num) or first block (text),
    # target from the reference as a saved notebook holds it, no target = 0
    opencompass: bool = False


DEFAULT_PROFILE = ScoringProfile("default", num_match, text_score, ssim_default, True, True)
CIBENCH_PROFILE = ScoringProfile("cibench", num_match_cibench, text_score_cibench, ssim_cibench,
                                 False, False, opencompass=True)


#: `cibench.scoring_profiles` entry points: the two above (declared in setup.cfg) and plugins'
#: (cibench/registry.py)
PROFILE_REGISTRY: Registry[ScoringProfile] = Registry("scoring profile", hint="pass --scoring")


def get_profile(name: str) -> ScoringProfile:
    return PROFILE_REGISTRY.get(name)


def _failure_of(execution: Execution) -> str:
    if execution.status == "timeout":
        return "timeout"
    if execution.status == "died":
        return "kernel died"
    name = clean_name(execution.error_name or "error") or "error"
    if name in ("SyntaxError", "IndentationError", "TabError"):
        return "syntax error"
    return f"runtime error: {name}"


def _decode(image: str) -> bytes:
    try:
        return base64.b64decode(image)
    except ValueError:  # binascii.Error: not base64 (the ssim functions give 0 for bad bytes)
        return b""


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def score_step(record: StepRecord, truth_execution: Execution,
               truth_checks_ok: bool = True, truth_figures: list[dict[str, Any]] | None = None,
               profile: ScoringProfile | str = "default") -> StepScore:
    """All metrics of one step, the failure category and a one-line note."""
    if isinstance(profile, str):
        profile = get_profile(profile)
    score = StepScore()
    called = [a for a in record.attempts if a.execution is not None]
    final = record.final_execution()
    score.tool = 1.0 if called else 0.0
    score.exec = 1.0 if final is not None and final.ok else 0.0
    ran = final is not None and final.ok
    kind = record.type
    notes: list[str] = []
    if kind in ("num", "text") and profile.opencompass:
        _score_opencompass(score, kind, record, truth_execution, final if ran else None,
                           profile, notes)
    elif kind == "num":
        _score_num(score, record, truth_execution, final, ran, profile, notes)
    elif kind == "text":
        _score_text(score, truth_execution, final, ran, profile, notes)
    elif kind == "vis":
        _score_vis(score, record, truth_execution, truth_figures, final, ran, profile, notes)
    if record.check is not None:
        _score_check(score, record, ran, notes)

    # where both figures have plotted data, it decides PASS (SSIM passes wrong figures:
    # docs/scoring.md); otherwise SSIM does
    data_decides = bool(profile.vis_data and truth_figures and record.figure_data and ran)
    tampered = [t for a in record.attempts for t in a.tampering]
    if tampered:
        notes.insert(0, f"tampering suspected: {_short(tampered[0], 80)}")
    score.passed = not tampered and _passed(kind, score, data_decides)
    score.failure = None if score.passed else \
        "tampering" if tampered else _failure(record, score, ran, kind)
    score.note = "; ".join(n for n in notes if n)
    if not truth_checks_ok:
        score.note += " (reference checks failed: ground truth is suspect)"
    return score


def _answer(execution: Execution) -> str:
    return execution.text().strip()


def _score_num(score: StepScore, record: StepRecord, truth: Execution, final: Execution | None,
               ran: bool, profile: ScoringProfile, notes: list[str]) -> None:
    """A num step: the final output against the reference's, with the step's tolerance where
    the profile allows one."""
    expected = _answer(truth)
    found = _answer(final) if ran and final else ""
    if ran:
        kwargs = {}
        if profile.tolerance and "tolerance" in record.options:
            kwargs["rel_tol"] = float(record.options["tolerance"])
        ok, why = profile.num(expected, found, **kwargs)
    else:
        ok, why = False, f"expected `{_short(expected)}`"
    score.num = 1.0 if ok else 0.0
    notes.append(why)


def _score_text(score: StepScore, truth: Execution, final: Execution | None, ran: bool,
                profile: ScoringProfile, notes: list[str]) -> None:
    """A text step: the profile's ROUGE of the final output against the reference's."""
    expected = _answer(truth)
    found = _answer(final) if ran and final else ""
    score.text = profile.text(expected, found) if ran else 0.0
    notes.append(f"ROUGE {score.text:.2f} against `{_short(expected, 40)}`")


def _score_vis(score: StepScore, record: StepRecord, truth: Execution,
               truth_figures: list[dict[str, Any]] | None, final: Execution | None, ran: bool,
               profile: ScoringProfile, notes: list[str]) -> None:
    """A vis step: SSIM of the first figures and, where the profile uses it, the similarity
    of the plotted data."""
    expected_imgs = truth.images()
    if profile.opencompass:  # load_experiment: only a display_data PNG is a target
        target = reference_target(truth)
        expected_imgs = [target] if target is not None and target in expected_imgs else []
    found_imgs = final.images() if ran and final else []
    if expected_imgs and found_imgs:
        score.vis = profile.ssim(_decode(expected_imgs[0]), _decode(found_imgs[0]))
        notes.append(f"SSIM {score.vis:.2f} against the reference figure")
    else:
        score.vis = 0.0
        notes.append("no figure produced" if ran else "no figure (code failed)")
    if profile.vis_data:
        if truth_figures and record.figure_data and ran:
            score.vis_data = figure_data_similarity(truth_figures[0], record.figure_data[0])
            notes.append(f"plotted data {score.vis_data:.2f}")
        else:
            score.vis_data = 0.0 if truth_figures else None


def _score_check(score: StepScore, record: StepRecord, ran: bool, notes: list[str]) -> None:
    """The step's hidden check: passed only when it ran clean after code that ran."""
    passed = record.check is not None and record.check.ok and ran
    score.check = 1.0 if passed else 0.0
    if record.check is not None and not record.check.ok:
        err = record.check.error or {}
        notes.append(f"check failed: {clean_name(err.get('ename', record.check.status))} "
                     f"{_short(str(err.get('evalue', '')), 50)}".strip())
    elif passed:
        notes.append("check passed")


def _score_opencompass(score: StepScore, kind: str, record: StepRecord, truth: Execution,
                       final: Execution | None, profile: ScoringProfile,
                       notes: list[str]) -> None:
    """A num or text step as OpenCompass's `correct_step` / `text_step` score it."""
    target = reference_target(truth)
    result = interpreter_text(final)
    found = num_answer(result) if kind == "num" else text_answer(result)
    value = 0.0
    if target is None:
        why = "the reference has no output: no target (OpenCompass scores 0)"
    elif final is None:
        why = f"expected `{_short(target)}`"
    elif found is None:
        why = ("no execute_result or stdout block in the interpreter output"
               if kind == "num" else "no output block in the interpreter output")
    elif kind == "num":
        ok, why = profile.num(target, found)
        value = 1.0 if ok else 0.0
    else:
        value = profile.text(target, found)
        why = f"ROUGE {value:.2f} against `{_short(target, 40)}`"
    if kind == "num":
        score.num = value
    else:
        score.text = value
    notes.append(why)


def _passed(kind: str, s: StepScore, data_decides: bool = False) -> bool:
    if s.exec < 1:
        return False
    if s.check is not None and s.check < 1:
        return False
    if kind == "num":
        return s.num == 1.0
    if kind == "text":
        return (s.text or 0.0) >= TEXT_PASS
    if kind == "vis":
        return ((s.vis_data if data_decides else s.vis) or 0.0) >= VIS_PASS
    return True


def _failure(record: StepRecord, s: StepScore, ran: bool, kind: str) -> str:
    if s.tool == 0:
        if any(a.reply.no_answer for a in record.attempts):
            return NO_ANSWER
        return "no code"
    final = record.final_execution()
    if not ran and final is not None:
        return _failure_of(final)
    if kind == "vis" and s.vis == 0.0 and final is not None and not final.images():
        return "missing output: no figure"
    if kind == "num" and final is not None and not final.text().strip():
        return "missing output: no number"
    if s.check is not None and s.check < 1:
        return "check failed"
    return "wrong answer"
