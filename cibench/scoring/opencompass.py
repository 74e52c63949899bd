"""How OpenCompass reads an answer, rule by rule, from a recorded `Execution`.

The `cibench` scoring profile and the `cibench` protocol use these functions so that a step is
read exactly as OpenCompass's CIBench evaluator reads it. Sources, all at open-compass/opencompass
commit a5acc4bb (files unchanged since e4830a69 "Update CIBench (#1089)"):

- `interpreter_text`: `opencompass/lagent/actions/ipython_interpreter.py`,
  `IPythonInterpreter._call._inner_call`: one block `\\n\\n{type}:\\n\\n```\\n{text}\\n```` per
  kernel message with text, in arrival order (`stdout`/`stderr` streams, `execute_result` text
  even beside a figure, `display_data` text only without a PNG, `error` tracebacks);
  `update_display_data` and `clear_output` are ignored; the whole cut to 1,024 characters
  (`result[:509] + "......" + result[-509:]`) BEFORE `lstrip("\\n")`; a call that succeeds
  without output reads "The code is succeed without any outputs." (`__call__`).
- `num_answer`: `opencompass/datasets/cibench.py`, `CIBenchEvaluator.correct_step`: the first
  `execute_result` block, else the first `stdout` block, by regex on that text.
- `text_answer`: `CIBenchEvaluator.text_step`: the first fenced block of any kind.
- `reference_target`: `opencompass/datasets/cibench.py`, `load_experiment`: the reference
  cell's outputs as a saved notebook holds them (consecutive stream messages of one name
  coalesced, as Jupyter and nbconvert save them); an image in a `display_data` makes the
  target that PNG; otherwise, from the last output backwards, the first `stdout` stream or
  `execute_result`; none of them: no target (`None`), and the step scores 0.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from ..records import Execution, is_marker

log = logging.getLogger(__name__)

__all__ = ["TRIM_OUTPUT", "NO_OUTPUT", "interpreter_text", "num_answer", "text_answer",
           "reference_target", "trim"]

TRIM_OUTPUT = 1024  # IPythonInterpreter(trim_output=1024)
ELLIPSIS = "......"
NO_OUTPUT = "The code is succeed without any outputs."
# ipython_interpreter.escape_ansi
_ANSI_RE = re.compile(r"(?:\x1B[@-_]|[\x80-\x9F])[0-?]*[ -/]*[@-~]")
_EXEC_RE = re.compile("execute_result:\n\n```\n(.*?)\n```", re.DOTALL)
_STDOUT_RE = re.compile("stdout:\n\n```\n(.*?)\n```", re.DOTALL)
_BLOCK_RE = re.compile("```\n(.*?)\n```", re.DOTALL)


def _plain(out: dict[str, Any]) -> str:
    value = out.get("data", {}).get("text/plain", "")
    return "".join(value) if isinstance(value, list) else str(value or "")


def trim(result: str, limit: int = TRIM_OUTPUT) -> str:
    """The interpreter's cut: first and last `int((limit - 6) / 2)` characters around "......"."""
    if limit and len(result) > limit:
        half = int((limit - len(ELLIPSIS)) / 2)
        result = result[:half] + ELLIPSIS + result[-half:]
    return result


def blocks(execution: Execution) -> list[tuple[str, str]]:
    """(type, text) per kernel message that OpenCompass's interpreter turns into a block."""
    out: list[tuple[str, str]] = []
    for o in execution.outputs:
        kind = o.get("output_type")
        text = ""
        if kind == "stream":
            if is_marker(o):
                continue
            kind, text = str(o.get("name", "stdout")), str(o.get("text", ""))
        elif kind == "execute_result":
            text = _plain(o)
        elif kind == "display_data":
            meta = o.get("metadata") or {}
            if isinstance(meta, dict) and (meta.get("cibench") or {}).get("msg_type") \
                    == "update_display_data":
                continue
            if "image/png" not in o.get("data", {}):
                text = _plain(o)
        elif kind == "error":
            text = _ANSI_RE.sub("", "\n".join(str(line) for line in o.get("traceback") or []))
        if text:
            out.append((str(kind), text))
    return out


def raw_result(execution: Execution, limit: int = TRIM_OUTPUT) -> str:
    """The interpreter's `result` string: blocks joined, cut, then `lstrip("\\n")`."""
    result = "".join(f"\n\n{kind}:\n\n```\n{text}\n```" for kind, text in blocks(execution))
    return trim(result, limit).lstrip("\n")


def interpreter_text(execution: Execution | None, limit: int = TRIM_OUTPUT) -> str | None:
    """`action['result']['text']` of a call: None when the call failed (OpenCompass then keeps
    only an error message, and the step's answer is read from nothing)."""
    if execution is None or not execution.ok:
        return None
    return raw_result(execution, limit) or NO_OUTPUT


def num_answer(result: str | None) -> str | None:
    """`correct_step`'s prediction: the first execute_result block, else the first stdout."""
    if not result:
        return None
    match = _EXEC_RE.search(result) or _STDOUT_RE.search(result)
    return match.group(1) if match else None


def text_answer(result: str | None) -> str | None:
    """`text_step`'s prediction: the first fenced block, of any kind."""
    if not result:
        return None
    match = _BLOCK_RE.search(result)
    return match.group(1) if match else None


def _saved_outputs(execution: Execution) -> list[dict[str, Any]]:
    """The outputs as a saved notebook holds them: consecutive streams of one name merged."""
    saved: list[dict[str, Any]] = []
    for o in execution.outputs:
        if o.get("output_type") == "stream":
            if is_marker(o):
                continue
            last = saved[-1] if saved else None
            if last is not None and last.get("output_type") == "stream" \
                    and last.get("name") == o.get("name"):
                last["text"] += str(o.get("text", ""))
                continue
            saved.append({**o, "text": str(o.get("text", ""))})
        else:
            saved.append(o)
    return saved


def reference_target(execution: Execution) -> str | None:
    """`load_experiment`'s target for a reference cell (None: no output, the step scores 0)."""
    outputs = _saved_outputs(execution)
    for o in outputs:
        if o.get("output_type") == "display_data" and "image/png" in o.get("data", {}):
            return str(o["data"]["image/png"])
    for o in reversed(outputs):
        if o.get("output_type") == "stream" and o.get("name") == "stdout":
            return str(o.get("text", ""))
        if o.get("output_type") == "execute_result":
            return _plain(o)
    return None
