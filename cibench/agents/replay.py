"""`--model answers:FILE[@NAME]`: replay answers another harness (or an earlier cibench run)
produced, instead of calling a model. The file's format is recognised by content (answers.py).

Attempt k of a step is the file's k-th answer for it; when the file has fewer, the agent replies
without code, which ends the step (scored on the attempts that ran). A step the file has no
answer for at all gets a reply marked `no_answer`: scored as a failure with category
"no answer", counted in summary.json (`no_answer`), never dropped.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..answers import AnswerSet, answers_model_name, load_answers
from ..records import Reply, Turn
from ..task import Step, Task
from .base import AgentOptions
from .extract import extract_code, strip_code

log = logging.getLogger(__name__)

PREFIX = "answers:"
PROTOCOL = "replay"
_LOADED: dict[tuple[str, float, int], AnswerSet] = {}  # one parse per file per process


def _load(path: Path) -> AnswerSet:
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_mtime, st.st_size)
    except OSError:
        return load_answers(path)  # raises the one-line error
    if key not in _LOADED:
        _LOADED[key] = load_answers(path)
    return _LOADED[key]


class ReplayAgent:
    """Answers every step from an answers file; `name` is the model name runs record."""

    protocol = PROTOCOL
    replays = True  # the runner may score check-only single-step tasks on the fast path

    def __init__(self, spec: str, options: AgentOptions | None = None):
        self.spec = spec
        self.options = options or AgentOptions()
        self.path, self.name = answers_model_name(spec)
        self.sample = self.options.sample
        self.answers: AnswerSet | None = None

    async def __aenter__(self) -> ReplayAgent:
        self.answers = _load(self.path)
        log.info("%s: %s answers for %d tasks from %s", self.name, self.answers.format,
                 self.answers.tasks_answered(), self.path)
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def replies(self, task: Task, step: Step, attempts: int) -> list[Reply]:
        """The replies for attempts 1..`attempts` of a step, stopping at the first without code
        (what `reply` returns one by one; the fast path takes them all at once)."""
        out = []
        for k in range(1, attempts + 1):
            reply = self._reply(task, step, k)
            out.append(reply)
            if reply.code is None:
                break
        return out

    async def reply(self, task: Task, step: Step, history: list[Turn]) -> Reply:
        attempt = 1
        for turn in reversed(history):
            if turn.role == "user":
                break
            if turn.role == "assistant" and turn.step == step.index:
                attempt += 1
        return self._reply(task, step, attempt)

    def _reply(self, task: Task, step: Step, attempt: int) -> Reply:
        assert self.answers is not None, "the agent is used outside `async with`"
        found = self.answers.lookup(task, step.index, self.sample)
        where = os.path.basename(str(self.path))
        if not found:
            return Reply(text=f"[no answer in {where} for {task.id} step {step.index}"
                              + (f" sample {self.sample}" if self.sample else "") + "]",
                         no_answer=True, final=True)
        if attempt > len(found):
            return Reply(text=f"[{where} has no attempt {attempt} for this step]", final=True)
        answer = found[attempt - 1]
        code = answer.code if answer.exact_code else extract_code(answer.text)
        prose = "" if answer.exact_code and answer.text == code else strip_code(answer.text)
        return Reply(text=answer.text, prose=prose.strip(), code=code, final=code is None)

