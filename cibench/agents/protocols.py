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
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ..codeblocks import lagent_extract_code
from ..records import Reply, Turn
from ..registry import Registry
from ..scoring.opencompass import interpreter_text, raw_result
from ..task import Task
from .base import AgentOptions
from .extract import extract_code, strip_code
from .feedback import feedback_text, image_parts

#: a normalized model answer (also what the response cache stores):
#: {"content": str, "tool_calls": [{"id", "name", "arguments"}], "finish_reason": str | None}
RawReply = dict[str, Any]


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
    text = turn.text.strip()
    if options.module_hint:
        hint = module_hint(task, turn.step)
        if hint and not text.endswith(hint):
            sep = "" if hint.startswith("请") else " "
            text = f"{text}{sep}{hint}"
    return text


def _with_images(text: str, turn: Turn, options: AgentOptions) -> str | list[dict[str, Any]]:
    """Message content: plain text, or text plus image parts under `--images`."""
    if options.images and turn.execution is not None:
        images = image_parts(turn.execution)
        if images:
            return [{"type": "text", "text": text}, *images]
    return text


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

TOOL_NAME = "IPythonInterpreter"
TOOL_DESCRIPTION = ("IPythonInterpreter: it runs Python code the way a Jupyter notebook does. "
                    "The code must be valid Python.")

REACT_SYSTEM = f"""\
You are an assistant who can use external tools.
{TOOL_DESCRIPTION}
To use a tool, respond in this format:
```
Thought: Think about what you need to solve and whether you need a tool.
Action: The tool name, one of [{TOOL_NAME}].
Action Input: The input to the tool.
```
The tool answers after your response, in this format:
```
Response: the results of the tool call.
```
So DO NOT write the tool response yourself.
If you already know the answer, or you do not need a tool, respond in this format:
```
Thought: How you arrived at the final answer.
Final Answer: The final answer.
```

Also follow these guidelines:
1. Always use the code interpreter to solve the problem.
2. Always put the code in a markdown code block.
3. The code is executed in an IPython kernel and its results are kept for the next steps.
4. Keep your code simple; it should only solve the current step.

For example:

File path: `data/example.csv`
### Step 1. Load the file into a pandas DataFrame named `df`.

Thought: I should use `pandas` for this step.
Action: {TOOL_NAME}
Action Input: ```python
import pandas as pd
df = pd.read_csv("data/example.csv")
```
Response: The code ran successfully without any output.

Let us begin!
"""

_REACT_STOPS = ("\nResponse:", "\nObservation:")


def _cut_at_response(text: str) -> str:
    """Drop a tool response the model wrote itself (servers that ignore stop sequences)."""
    cut = len(text)
    for marker in _REACT_STOPS:
        at = text.find(marker)
        if at != -1:
            cut = min(cut, at)
    if text.startswith(("Response:", "Observation:")):
        cut = 0
    return text[:cut].rstrip()


def _after(text: str, label: str) -> str:
    return text.split(label, 1)[1].strip() if label in text else ""


class ReactProtocol(Protocol):
    def __init__(self) -> None:
        super().__init__(name="react", stop=_REACT_STOPS, system=REACT_SYSTEM)

    def assistant(self, turn: Turn, call_id: str | None) -> list[dict[str, Any]]:
        text = _cut_at_response(turn.text or "")
        if turn.code is not None and "Action Input:" not in text:
            thought = strip_code(text) if text else ""
            thought = thought.replace("Thought:", "").strip() or "I will run code for this step."
            text = (f"Thought: {thought}\nAction: {TOOL_NAME}\n"
                    f"Action Input: ```python\n{turn.code.rstrip()}\n```")
        return [{"role": "assistant", "content": text}]

    def tool(self, turn: Turn, text: str, call_id: str | None,
             options: AgentOptions) -> list[dict[str, Any]]:
        return [{"role": "user", "content": _with_images(f"Response: {text}", turn, options)}]

    def parse(self, raw: RawReply) -> Reply:
        text = _cut_at_response(raw.get("content") or "")
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
        answer = _after(text, "Final Answer:")
        prose = "\n\n".join(p for p in (thought, answer) if p) or text.strip()
        return Reply(text=text, prose=prose, code=None, final=True)


# --------------------------------------------------------------------------------------------
# tools

TOOLS_SYSTEM = """\
You are a data scientist working in a Jupyter notebook with a user who asks for one thing at a \
time. Use the `python` tool to run code in the notebook's live IPython kernel: variables, imports \
and files persist between calls and between requests, and the working directory holds the task's \
data files. Each call returns what the cell produced: printed output, the value of its last \
expression, errors, and `[image]` for each figure. Keep the code simple and solve only the current \
request; print (or end with) the values you are asked for. When the request is done, or needs no \
code, answer in plain text without calling the tool."""

PYTHON_TOOL = {
    "type": "function",
    "function": {
        "name": "python",
        "description": "Run Python code in the notebook's live IPython kernel and return its output.",
        "parameters": {
            "type": "object",
            "properties": {"code": {"type": "string", "description": "The Python code to run."}},
            "required": ["code"],
        },
    },
}


def _tool_code(arguments: Any) -> str | None:
    if isinstance(arguments, dict):
        value = arguments.get("code")
        if not isinstance(value, str):
            value = next((v for v in arguments.values() if isinstance(v, str)), None)
        return extract_code(value) if value and "```" in value else (value or None)
    if not isinstance(arguments, str) or not arguments.strip():
        return None
    try:
        data = json.loads(arguments)
    except ValueError:
        return extract_code(arguments) or arguments  # a raw code string as arguments
    return _tool_code(data) if isinstance(data, dict) else None


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
            return [{"role": "user", "content": _with_images(f"Output:\n{text}", turn, options)}]
        out: list[dict[str, Any]] = [{"role": "tool", "tool_call_id": call_id, "content": text}]
        content = _with_images("The figures produced by the code above.", turn, options)
        if isinstance(content, list):  # tool messages hold text only: figures follow as user
            out.append({"role": "user", "content": content})
        return out

    def parse(self, raw: RawReply) -> Reply:
        text = raw.get("content") or ""
        for call in raw.get("tool_calls") or []:
            code = _tool_code(call.get("arguments"))
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

MARKDOWN_SYSTEM = """\
You are a data scientist working in a Jupyter notebook with a user who asks for one thing at a \
time. To run code, answer with one fenced ```python code block: it is executed in the notebook's \
live IPython kernel and its output is sent back to you. Variables, imports and files persist \
between requests, and the working directory holds the task's data files. Keep the code simple and \
solve only the current request; print (or end with) the values you are asked for. If the output \
shows an error, answer with corrected code. When the request is done, or needs no code, answer \
without a code block."""


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
        return [{"role": "user", "content": _with_images(f"Output:\n{text}", turn, options)}]

    def parse(self, raw: RawReply) -> Reply:
        text = raw.get("content") or ""
        code = extract_code(text, strict=True)
        if code is None:
            return Reply(text=text, prose=text.strip(), code=None, final=True)
        return Reply(text=text, prose=strip_code(text), code=code)


# --------------------------------------------------------------------------------------------
# cibench: lagent 0.1.2's ReActProtocol as OpenCompass's CIReAct drives it, turn for turn

#: lagent 0.1.2 `NoAction` / `InvalidAction` (as CIReAct words it) and OpenCompass's
#: `IPythonInterpreter.__call__` messages, sent back as `Response:<message>\n`
NO_ACTION = "Please follow the format"
INVALID_ACTION = "The action is invalid, please check the action name."
EMPTY_CODE = "The input code is empty. Please follow the format."
#: CIReAct.chat's `default_response` when its turns run out (kept in the session history)
CIREACT_GIVE_UP = "对不起，我无法回答你的问题"
_LAGENT_ACTION_RE = re.compile("Action:(.*?)\n")
_LAGENT_ARGS_RE = re.compile("Action Input:(.*)", re.DOTALL)
#: OpenCompass's `extract_code` (cibench/codeblocks.py)
opencompass_extract_code = lagent_extract_code


def lagent_parse(text: str) -> tuple[str, str, str]:
    """lagent 0.1.2 `ReActProtocol.parse`: (thought, action, action input); action is
    "FinishAction" when `Final Answer:` appears anywhere, "NoAction" when there is no
    `Action:` line ending in a newline or no `Action Input:`."""
    thought = text.split("Action:")[0].split("Thought:")[-1].split("Final Answer:")[0]
    if "Final Answer:" in text:
        return thought, "FinishAction", text.split("Final Answer:")[-1]
    actions = _LAGENT_ACTION_RE.findall(text)
    args = _LAGENT_ARGS_RE.findall(text)
    if not actions or not args:
        return thought, "NoAction", ""
    return thought, actions[-1].strip(), args[-1].strip().strip('"')


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
        return [{"role": "user", "content": _with_images(f"Response:{response}\n", turn,
                                                         options)}]

    def parse(self, raw: RawReply) -> Reply:
        text = _cut_at_response(raw.get("content") or "")
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


#: `cibench.protocols` entry points: the classes above (react, tools, markdown, cibench; declared
#: in setup.cfg) and plugins' (cibench/registry.py)
PROTOCOL_REGISTRY: Registry[type[Protocol]] = Registry("protocol", hint="pass --protocol")


def get_protocol(name: str) -> Protocol:
    return PROTOCOL_REGISTRY.get(name)()
