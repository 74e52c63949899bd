"""Reading a model's reply text: the ReAct markers (a tool response the model wrote itself, a
`Final Answer:`), a tool call's code, and lagent 0.1.2's ReAct parse with the messages CIReAct
sends back for a reply it cannot act on."""

from __future__ import annotations

import json
import re
from typing import Any

from ..codeblocks import lagent_extract_code
from .extract import extract_code

REACT_STOPS = ("\nResponse:", "\nObservation:")


def cut_at_response(text: str) -> str:
    """Drop a tool response the model wrote itself (servers that ignore stop sequences)."""
    cut = len(text)
    for marker in REACT_STOPS:
        at = text.find(marker)
        if at != -1:
            cut = min(cut, at)
    if text.startswith(("Response:", "Observation:")):
        cut = 0
    return text[:cut].rstrip()


def after(text: str, label: str) -> str:
    """The stripped text after the first `label`, "" without one."""
    return text.split(label, 1)[1].strip() if label in text else ""


def tool_code(arguments: Any) -> str | None:
    """The code of a `python` tool call's arguments (a dict, its JSON, or raw code)."""
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
    return tool_code(data) if isinstance(data, dict) else None


#: lagent 0.1.2 `NoAction` / `InvalidAction` (as CIReAct words it) and OpenCompass's
#: `IPythonInterpreter.__call__` messages, sent back as `Response:<message>\n`
NO_ACTION = "Please follow the format"
INVALID_ACTION = "The action is invalid, please check the action name."
EMPTY_CODE = "The input code is empty. Please follow the format."
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
