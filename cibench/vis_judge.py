"""`--vis-judge MODEL`: a vision model judges the model's figure against the step's instruction.

Two variants:
- `rubric` (CIBench's): the judge rates the figure 1-10 on a five-band rubric (does not reflect
  the instruction at all 1-2, partly 3-4, basically 5-6, well and with some aesthetic care 7-8,
  completely and excellently 9-10) and answers with the number only; the last number of the
  answer is taken, as OpenCompass's `gsm8k_postprocess` does, and recorded as score / 10.
- `binary` (Qwen-Agent's): the judge answers `right` or `wrong`; recorded as 1.0 or 0.0.

The judge sees the instruction and the first image of the step's final execution, never the
reference figure (as in both anchors). Every answer is kept in `<run>/vis_judge.jsonl` keyed by
sha256(model, prompt, image) before it is used, so re-scoring a run never pays for a call twice.
A judge that cannot be reached, or answers something unparseable, leaves `vis_judge` empty (None)
with a note; such calls are not cached and are retried on the next `cibench score`.

litellm is imported on first use only, with its cost map read locally (no network at import).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UnknownNameError
from .jsonl_store import JsonlStore
from .records import SessionRecord, VisJudgeParams
from .scoring.aggregate import pool

log = logging.getLogger(__name__)

CACHE_FILE = "vis_judge.jsonl"
VARIANTS = ("rubric", "binary")
RETRIES = 3

RUBRIC_PROMPT = """You judge how well a figure produced by an AI model's code answers a \
visualization request.
Look at the image and rate it with one whole number from 1 to 10. Reply with the number only.
Be strict and use these bands:
- 1-2: the image does not reflect the request at all.
- 3-4: the image reflects part of the request, but important details are missing.
- 5-6: the image basically meets the request; its look is ordinary.
- 7-8: the image meets the request well and shows some care in colours, shapes and layout.
- 9-10: the image meets every detail of the request and looks excellent.

[Visualization request]: {question}
"""

BINARY_PROMPT = """Here is a visualization request given to an AI model, and the image its \
code produced.
Does the image correctly answer the request? Reply with exactly one word: right or wrong.

[Visualization request]: {question}
"""

PROMPTS = {"rubric": RUBRIC_PROMPT, "binary": BINARY_PROMPT}


@dataclass(frozen=True)
class JudgeSettings:
    model: str
    variant: str = "rubric"
    api_base: str | None = None
    api_key_env: str | None = None

    def as_params(self) -> dict[str, Any]:
        """What the run config records (never the key itself)."""
        return {"model": self.model, "variant": self.variant, "api_base": self.api_base,
                "api_key_env": self.api_key_env}

    @classmethod
    def from_params(cls, params: VisJudgeParams | None) -> JudgeSettings | None:
        if params is None or not params.model:
            return None
        return cls(model=params.model, variant=params.variant or "rubric",
                   api_base=params.api_base, api_key_env=params.api_key_env)


def check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise UnknownNameError(f"unknown vis judge variant {variant!r}; known: "
                               f"{', '.join(VARIANTS)}")
    return variant


def judge_prompt(instruction: str, variant: str = "rubric") -> str:
    return PROMPTS[check_variant(variant)].format(question=instruction.strip())


def parse_verdict(text: str, variant: str) -> float | None:
    """The judge's answer as a score in 0..1, or None when it says nothing usable."""
    text = (text or "").strip()
    if variant == "binary":
        words = re.findall(r"[a-z]+", text.lower())
        for word in words:
            if word in ("right", "correct", "yes"):
                return 1.0
            if word in ("wrong", "incorrect", "no"):
                return 0.0
        return None
    numbers = re.findall(r"-?\d+(?:\.\d+)?", text.replace(",", ""))
    if not numbers:
        return None
    try:
        value = int(float(numbers[-1]))
    except ValueError:
        return None
    if not 1 <= value <= 10:
        return None
    return value / 10


def cache_key(model: str, prompt: str, image_b64: str) -> str:
    digest = hashlib.sha256()
    for part in (model, prompt, image_b64):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


class VisJudge:
    """Calls the judge model (through litellm) with a cache in the run folder."""

    def __init__(self, settings: JudgeSettings, run_dir: Path):
        self.settings = settings
        check_variant(settings.variant)
        self.cache = JsonlStore(Path(run_dir) / CACHE_FILE)
        self.calls = 0  # paid calls made by this judge (cache hits excluded)

    def _api_key(self) -> str | None:
        var = self.settings.api_key_env
        if var:
            return os.environ.get(var) or None
        if self.settings.api_base and not os.environ.get("OPENAI_API_KEY"):
            return "no-key"  # self-hosted OpenAI-compatible servers rarely want one
        return None

    async def _call(self, prompt: str, image_b64: str) -> str:
        from .agents.llm import import_litellm  # lazy: litellm costs seconds to import
        litellm = import_litellm()
        kwargs: dict[str, Any] = {
            "model": self.settings.model, "temperature": 0, "max_tokens": 16,
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": prompt},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image_b64}"}},
            ]}], "timeout": 120, "max_retries": 0, "drop_params": True}
        if self.settings.api_base:
            kwargs["api_base"] = self.settings.api_base
        key = self._api_key()
        if key:
            kwargs["api_key"] = key
        last: Exception | None = None
        for attempt in range(RETRIES):
            try:
                response = await litellm.acompletion(**kwargs)
                return response.choices[0].message.content or ""
            except Exception as exc:  # noqa: BLE001  (litellm maps errors onto many classes)
                last = exc
                status = getattr(exc, "status_code", None)
                if status is not None and status not in (408, 429) and status < 500:
                    break
                await asyncio.sleep(min(8.0, 0.5 * 2 ** attempt))
        raise RuntimeError(f"{type(last).__name__}: {str(last)[:200]}")

    async def judge(self, instruction: str, image_b64: str) -> tuple[float | None, str]:
        """(score in 0..1 or None, a short note)."""
        prompt = judge_prompt(instruction, self.settings.variant)
        key = cache_key(self.settings.model, prompt, image_b64)
        hit = self.cache.get(key)
        if hit is None:
            try:
                answer = await self._call(prompt, image_b64)
            except Exception as exc:  # noqa: BLE001
                log.warning("vis judge %s failed: %s", self.settings.model, exc)
                return None, f"vis judge failed ({exc})"
            score = parse_verdict(answer, self.settings.variant)
            hit = {"key": key, "model": self.settings.model, "variant": self.settings.variant,
                   "answer": answer, "score": score, "time": time.time()}
            if score is not None:
                self.cache.put(hit)  # synchronous: no interleaving within the event loop
                self.calls += 1
        if hit["score"] is None:
            return None, f"vis judge answer unreadable: {str(hit['answer'])[:40]!r}"
        shown = f"{hit['score'] * 10:.0f}/10" if self.settings.variant == "rubric" \
            else ("right" if hit["score"] else "wrong")
        return hit["score"], f"vis judge {shown}"


_JUDGES: dict[tuple[JudgeSettings, str], VisJudge] = {}


def get_judge(settings: JudgeSettings, run_dir: Path) -> VisJudge:
    """One judge (and cache) per settings and run folder within a process."""
    key = (settings, str(Path(run_dir).resolve()))
    if key not in _JUDGES:
        _JUDGES[key] = VisJudge(settings, run_dir)
    return _JUDGES[key]


async def judge_session(record: SessionRecord, run_dir: Path,
                        judge: VisJudge | None = None) -> None:
    """Fill `vis_judge` on every scored `vis` step of a record whose run asks for a judge.

    The settings come from `record.run.params.vis_judge`; no settings, nothing to do. Steps
    without a figure get 0.0 (nothing to judge is a wrong figure), as with SSIM.
    """
    settings = JudgeSettings.from_params(record.run.params.vis_judge)
    if settings is None or record.status != "complete":
        return
    judge = judge or get_judge(settings, run_dir)
    for step in record.steps:
        if step.type != "vis" or step.score is None:
            continue
        final = step.final_execution()
        images = final.images() if final is not None and final.ok else []
        if not images:
            step.score.vis_judge = 0.0
            continue
        try:
            base64.b64decode(images[0], validate=False)
        except ValueError:
            step.score.vis_judge = 0.0
            continue
        score, note = await judge.judge(step.instruction, images[0])
        step.score.vis_judge = score
        step.score.note = "; ".join(p for p in (step.score.note, note) if p)
    record.scores = pool(record.steps)
