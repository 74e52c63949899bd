"""Prompt protocols: how the neutral history (`list[Turn]`) is shown to a chat model, and how its
answer is read back into a `Reply`.

- `react`: CIBench's format (lagent's ReAct as configured by OpenCompass for CIBench): a system
  prompt describing the `IPythonInterpreter` tool with a one-step example; the model writes
  `Thought:` / `Action: IPythonInterpreter` / `Action Input: ```python ...```` and stops; the tool
  output comes back as `Response: ...`; `Final Answer:` ends a step without a tool call.
- `tools`: native function calling with one tool, `python(code)`; results go back as `tool`
  messages carrying the call's id.
- `markdown`: plain chat; the first fenced Python block of a reply is the code.

Every protocol appends CIBench's module hint to instructions ("Please use pandas and numpy
modules.", Chinese tasks "请用 pandas 和 numpy 模块.") unless `module_hint` is off.

Departures from CIBench, on purpose: tool output goes back in a `user` message (CIBench uses a
mid-conversation `system` message, which Anthropic, Gemini and many local chat templates reject or
move to the top); the hint is separated from the instruction by a space (CIBench glues it on:
"...decimals.Please use ..."); a reply that ignores the ReAct format but holds a fenced code block
still runs (CIBench would count it as an invalid action).

The protocol classes live here (setup.cfg's `cibench.protocols` entry points name them); their
system prompts are in `prompts`, reply reading and lagent's parse in `reply_parsing`, the module
hint and CIReAct's session history in `turns`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..records import Reply, Turn
from ..registry import Registry
from ..scoring.opencompass import interpreter_text, raw_result
from ..task import Task
from .base import AgentOptions
from .extract import extract_code, strip_code
from .feedback import feedback_text
from .prompts import (
    MARKDOWN_SYSTEM,
    PYTHON_TOOL,
    REACT_SYSTEM,
    TOOL_DESCRIPTION,
    TOOL_NAME,
    TOOLS_SYSTEM,
)
from .reply_parsing import (
    EMPTY_CODE,
    INVALID_ACTION,
    NO_ACTION,
    REACT_STOPS,
    after,
    cut_at_response,
    lagent_parse,
    opencompass_extract_code,
    tool_code,
)
from .turns import CIREACT_GIVE_UP, instruction_text, module_hint, session_history, with_images

__all__ = [
    "CIREACT_GIVE_UP", "EMPTY_CODE", "INVALID_ACTION", "MARKDOWN_SYSTEM", "NO_ACTION",
    "PROTOCOL_REGISTRY", "PYTHON_TOOL", "REACT_SYSTEM", "TOOLS_SYSTEM", "TOOL_DESCRIPTION",
    "TOOL_NAME", "CibenchProtocol", "MarkdownProtocol", "Protocol", "RawReply", "ReactProtocol",
    "ToolsProtocol", "get_protocol", "instruction_text", "lagent_parse", "module_hint",
    "opencompass_extract_code", "session_history",
]

#: a normalized model answer (also what the response cache stores):
#: {"content": str, "tool_calls": [{"id", "name", "arguments"}], "finish_reason": str | None}
RawReply = dict[str, Any]


@dataclass
class Protocol:
    """Base: renders user turns and pairs each assistant code turn with its tool turn."""

    name: str = ""
    stop: tuple[str, ...] = ()
    system: str = ""

    def tools(self) -> list[dict[str, Any]] | None:
        return None

    def messages(self, task: Task, history: list[Turn], options: AgentOptions) -> list[dict]:
        out: list[dict[str, Any]] = [{"role": "system", "content": self.system}]
        call_id: str | None = None
        calls = 0
        for turn in history:
            if turn.role == "user":
                out.append({"role": "user", "content": instruction_text(task, turn, options)})
                call_id = None
            elif turn.role == "assistant":
                if turn.code is not None:
                    calls += 1
                    call_id = turn.tool_call_id or f"call_{turn.step}_{calls}"
                else:
                    call_id = None
                out.extend(self.assistant(turn, call_id))
            elif turn.role == "tool" and turn.execution is not None:
                text = feedback_text(turn.execution, options.feedback_chars)
                out.extend(self.tool(turn, text, call_id, options))
                call_id = None
            elif turn.role == "tool":  # a format error the protocol sends back (no code ran)
                out.extend(self.tool(turn, turn.text, None, options))
                call_id = None
        return out

    def assistant(self, turn: Turn, call_id: str | None) -> list[dict[str, Any]]:
        raise NotImplementedError

    def tool(self, turn: Turn, text: str, call_id: str | None,
             options: AgentOptions) -> list[dict[str, Any]]:
        raise NotImplementedError

    def parse(self, raw: RawReply) -> Reply:
        raise NotImplementedError


# --------------------------------------------------------------------------------------------
# react
class ReactProtocol(Protocol):
    def __init__(self) -> None:
        super().__init__(name="react", stop=REACT_STOPS, system=REACT_SYSTEM)

    def assistant(self, turn: Turn, call_id: str | None) -> list[dict[str, Any]]:
        text = cut_at_response(turn.text or "")
        if turn.code is not None and "Action Input:" not in text:
            thought = strip_code(text) if text else ""
            thought = thought.replace("Thought:", "").strip() or "I will run code for this step."
            text = (f"Thought: {thought}\nAction: {TOOL_NAME}\n"
                    f"Action Input: ```python\n{turn.code.rstrip()}\n```")
        return [{"role": "assistant", "content": text}]

    def tool(self, turn: Turn, text: str, call_id: str | None,
             options: AgentOptions) -> list[dict[str, Any]]:
        return [{"role": "user", "content": with_images(f"Response: {text}", turn, options)}]

    def parse(self, raw: RawReply) -> Reply:
        text = cut_at_response(raw.get("content") or "")
        action_at = text.find("Action Input:")
        final_at = text.find("Final Answer:")
        thought = text[:action_at if action_at != -1 else len(text)]
        thought = thought.split("Action:")[0].split("Final Answer:")[0]
        thought = thought.replace("Thought:", "").strip()
        code: str | None = None
        if action_at != -1 and (final_at == -1 or action_at < final_at):
            code = extract_code(text[action_at + len("Action Input:"):])
        elif final_at == -1:
            code = extract_code(text, strict=True)  # format ignored, but a code block is there
            if code is not None:
                thought = strip_code(thought)
        if code is not None:
            return Reply(text=text, prose=thought, code=code)
        answer = after(text, "Final Answer:")
        prose = "\n\n".join(p for p in (thought, answer) if p) or text.strip()
        return Reply(text=text, prose=prose, code=None, final=True)


# --------------------------------------------------------------------------------------------
# tools
class ToolsProtocol(Protocol):
    def __init__(self) -> None:
        super().__init__(name="tools", stop=(), system=TOOLS_SYSTEM)

    def tools(self) -> list[dict[str, Any]] | None:
        return [PYTHON_TOOL]

    def assistant(self, turn: Turn, call_id: str | None) -> list[dict[str, Any]]:
        text = turn.text or ""
        if turn.code is None or call_id is None:
            return [{"role": "assistant", "content": text}]
        if extract_code(text) is not None:
            text = strip_code(text)  # the code travels in the call, not twice
        call = {"id": call_id, "type": "function",
                "function": {"name": "python", "arguments": json.dumps({"code": turn.code})}}
        return [{"role": "assistant", "content": text or None, "tool_calls": [call]}]

    def tool(self, turn: Turn, text: str, call_id: str | None,
             options: AgentOptions) -> list[dict[str, Any]]:
        if call_id is None:
            return [{"role": "user", "content": with_images(f"Output:\n{text}", turn, options)}]
        out: list[dict[str, Any]] = [{"role": "tool", "tool_call_id": call_id, "content": text}]
        content = with_images("The figures produced by the code above.", turn, options)
        if isinstance(content, list):  # tool messages hold text only: figures follow as user
            out.append({"role": "user", "content": content})
        return out

    def parse(self, raw: RawReply) -> Reply:
        text = raw.get("content") or ""
        for call in raw.get("tool_calls") or []:
            code = tool_code(call.get("arguments"))
            if code is not None:
                return Reply(text=text, prose=text.strip(), code=code,
                             tool_call_id=call.get("id") or None)
        # small models write the call as JSON in the message text
        if text.strip().startswith("{"):
            code = extract_code(text)
            if code is not None:
                return Reply(text=text, prose="", code=code)
        return Reply(text=text, prose=text.strip(), code=None, final=True)


# --------------------------------------------------------------------------------------------
# markdown
class MarkdownProtocol(Protocol):
    def __init__(self) -> None:
        super().__init__(name="markdown", stop=(), system=MARKDOWN_SYSTEM)

    def assistant(self, turn: Turn, call_id: str | None) -> list[dict[str, Any]]:
        text = turn.text or ""
        if turn.code is not None and extract_code(text, strict=True) is None:
            text = (text.rstrip() + "\n\n" if text.strip() else "") + \
                f"```python\n{turn.code.rstrip()}\n```"
        return [{"role": "assistant", "content": text}]

    def tool(self, turn: Turn, text: str, call_id: str | None,
             options: AgentOptions) -> list[dict[str, Any]]:
        return [{"role": "user", "content": with_images(f"Output:\n{text}", turn, options)}]

    def parse(self, raw: RawReply) -> Reply:
        text = raw.get("content") or ""
        code = extract_code(text, strict=True)
        if code is None:
            return Reply(text=text, prose=text.strip(), code=None, final=True)
        return Reply(text=text, prose=strip_code(text), code=code)


# --------------------------------------------------------------------------------------------
# cibench: lagent 0.1.2's ReActProtocol as OpenCompass's CIReAct drives it, turn for turn
class CibenchProtocol(ReactProtocol):
    """The `react` prompt, turned exactly as OpenCompass's CIReAct turns it with lagent 0.1.2:

    - a reply containing `Final Answer:` ends the step, even after an `Action Input:`;
    - a reply without an `Action:` line (ending in a newline) or without `Action Input:` is
      a format error: "Please follow the format" goes back and the step goes on (it uses one
      of the step's turns, `--attempts`); a fenced block alone is such a reply, it does not run;
    - an action other than IPythonInterpreter: "The action is invalid, ..." goes back;
    - the code is OpenCompass's `extract_code` of the action input (applied twice, as
      `IPythonInterpreter.__call__` and `_call` each apply it); empty code is a failed call;
    - the tool's answer is `Response:` + the interpreter text (scoring/opencompass.py) on
      success, `repr()` of it on failure, plus a newline;
    - earlier steps are shown as CIReAct's session history keeps them: the user turn, then
      only the reply that succeeded (or gave the final answer) and its response.
    """

    def __init__(self) -> None:
        super().__init__()
        self.name = "cibench"

    def messages(self, task: Task, history: list[Turn], options: AgentOptions) -> list[dict]:
        return super().messages(task, session_history(history), options)

    def assistant(self, turn: Turn, call_id: str | None) -> list[dict[str, Any]]:
        text = turn.text or ""
        if turn.code is not None and "Action Input:" not in text:  # an oracle-mode reference
            text = (f"Thought: \nAction: {TOOL_NAME}\n"
                    f"Action Input:```python\n{turn.code.rstrip()}\n```\n")
        return [{"role": "assistant", "content": text}]

    def tool(self, turn: Turn, text: str, call_id: str | None,
             options: AgentOptions) -> list[dict[str, Any]]:
        if turn.execution is None:
            response = turn.text
        elif turn.execution.note.startswith("not run: "):  # empty code (or refused): its reason
            response = turn.execution.note[len("not run: "):]
        elif turn.execution.ok:
            response = interpreter_text(turn.execution) or ""
        else:
            response = repr(raw_result(turn.execution))
        return [{"role": "user", "content": with_images(f"Response:{response}\n", turn,
                                                        options)}]

    def parse(self, raw: RawReply) -> Reply:
        text = cut_at_response(raw.get("content") or "")
        thought, action, action_input = lagent_parse(text)
        prose = thought.strip()
        if action == "FinishAction":
            prose = "\n\n".join(p for p in (prose, action_input.strip()) if p) or text.strip()
            return Reply(text=text, prose=prose, final=True)
        if action == "NoAction":
            return Reply(text=text, prose=prose or text.strip(), format_error=NO_ACTION)
        if action != TOOL_NAME:
            return Reply(text=text, prose=prose, format_error=INVALID_ACTION)
        code = opencompass_extract_code(opencompass_extract_code(action_input))
        return Reply(text=text, prose=prose, code=code)


#: `cibench.protocols` entry points: the classes above (react, tools, markdown, cibench; declared
#: in setup.cfg) and plugins' (cibench/registry.py)
PROTOCOL_REGISTRY: Registry[type[Protocol]] = Registry("protocol", hint="pass --protocol")


def get_protocol(name: str) -> Protocol:
    return PROTOCOL_REGISTRY.get(name)()
