"""How the neutral history is shown: instructions with CIBench's module hint, tool output with
the figures under `--images`, and CIReAct's session history of earlier steps."""

from __future__ import annotations

from typing import Any

from ..records import Turn
from ..task import Task
from .base import AgentOptions
from .feedback import image_parts

#: CIReAct.chat's `default_response` when its turns run out (kept in the session history)
CIREACT_GIVE_UP = "对不起，我无法回答你的问题"


def module_hint(task: Task, step_index: int) -> str:
    """CIBench's "Please use X and Y modules." for one step ("" when the step names none)."""
    if not 1 <= step_index <= len(task.steps):
        return ""
    modules = [m.strip() for m in (task.steps[step_index - 1].module or "").split("&") if m.strip()]
    if not modules:
        return ""
    if (task.language or "en").lower().startswith(("zh", "cn")):
        return f"请用 {' 和 '.join(modules)} 模块."
    return f"Please use {' and '.join(modules)} modules."


def instruction_text(task: Task, turn: Turn, options: AgentOptions) -> str:
    """A user turn's text with the step's module hint appended (once) when hints are on."""
    text = turn.text.strip()
    if options.module_hint:
        hint = module_hint(task, turn.step)
        if hint and not text.endswith(hint):
            sep = "" if hint.startswith("请") else " "
            text = f"{text}{sep}{hint}"
    return text


def with_images(text: str, turn: Turn, options: AgentOptions) -> str | list[dict[str, Any]]:
    """Message content: plain text, or text plus image parts under `--images`."""
    if options.images and turn.execution is not None:
        images = image_parts(turn.execution)
        if images:
            return [{"type": "text", "text": text}, *images]
    return text


def session_history(history: list[Turn]) -> list[Turn]:
    """CIReAct's session history: for every step but the current one, the user turn and only
    the reply that ended it (its code's response, or the final answer as `Response:`)."""
    if not history:
        return history
    current = history[-1].step
    out: list[Turn] = []
    steps: dict[int, list[Turn]] = {}
    for turn in history:
        steps.setdefault(turn.step, []).append(turn)
    for step, turns in steps.items():
        if step == current:
            out.extend(turns)
            continue
        out.extend(t for t in turns if t.role == "user")
        rest = [t for t in turns if t.role != "user"]
        ok = [i for i, t in enumerate(rest) if t.role == "tool" and t.execution is not None
              and t.execution.ok and i > 0]
        if ok:
            out.extend(rest[ok[-1] - 1:ok[-1] + 1])
        elif rest and rest[-1].role == "assistant":
            last = rest[-1]
            if "Final Answer:" in (last.text or ""):
                out.append(last)
                out.append(Turn(role="tool", text=last.text.split("Final Answer:")[-1],
                                step=step))
            else:  # the turns ran out: CIReAct keeps its default response
                out.append(last.model_copy(update={"text": CIREACT_GIVE_UP, "code": None}))
        else:
            out.extend(rest)
    return out
