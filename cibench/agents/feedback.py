"""What the model is told after its code ran: an `Execution` rendered as text (and images).

As CIBench's IPythonInterpreter does: one block per output, headed by its type (`stdout:`,
`stderr:`, `execute_result:`, `display_data:`, `error:`), tracebacks without ANSI codes, figures as
placeholders, and the whole cut to `feedback_chars` (first half + "......" + last half). Unlike
CIBench, a traceback keeps only its last frames (the model needs where it failed, not the whole
pandas call stack), and the model is always told, after the cut, when the cell timed out or the
kernel died and was restarted, so it can tell a slow or fatal cell from an empty output. With
`images=True` the figures also go back as image content parts for vision models.
"""

from __future__ import annotations

import re
from typing import Any

from ..records import Execution

ELLIPSIS = "......"
NO_OUTPUT = "The code ran successfully without any output."
TRACEBACK_FRAMES = 3  # frames kept from an IPython traceback besides its header and last line
MAX_IMAGES = 4  # figures sent to a vision model per execution
_ANSI_RE = re.compile(r"(?:\x1b\[[0-9;?]*[ -/]*[@-~])|(?:\x1b[@-_])")


def strip_ansi(text: str) -> str:
    return _ANSI_RE.sub("", text)


def cut(text: str, limit: int | None) -> str:
    """CIBench's cut: the first and last halves around "......", `limit` characters at most."""
    if not limit or len(text) <= limit:
        return text
    half = max(0, (limit - len(ELLIPSIS)) // 2)
    return text[:half] + ELLIPSIS + (text[-half:] if half else "")


def format_traceback(error: dict[str, Any], frames: int = TRACEBACK_FRAMES) -> str:
    """An error output as text: its last traceback frames and `ename: evalue`, without ANSI."""
    tb = [strip_ansi(item).rstrip("\n") for item in error.get("traceback") or []]
    last = f"{error.get('ename', 'Error')}: {error.get('evalue', '')}".rstrip(": ")
    if not tb:
        return last
    # IPython: [separator line, frame, frame, ..., "Name: value"]; keep the header line, the
    # last frames and the final line
    body = [item for item in tb if item.strip() and not set(item.strip()) <= {"-"}]
    if body and body[-1].strip().startswith(error.get("ename", "\0")):
        final, body = body[-1], body[:-1]
    else:
        final = last
    omitted = max(0, len(body) - frames)
    kept = body[-frames:] if frames else []
    parts = []
    if omitted:
        parts.append(f"(... {omitted} earlier frame{'s' if omitted != 1 else ''} omitted)")
    parts.extend(kept)
    parts.append(final)
    return "\n".join(parts)


def _block(kind: str, text: str) -> str:
    return f"{kind}:\n\n```\n{text.rstrip()}\n```"


def _merged_streams(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive stream messages of one name as one output, as a notebook shows them (the
    record keeps one output per kernel message; the `cibench` protocol sends them apart)."""
    merged: list[dict[str, Any]] = []
    for out in outputs:
        last = merged[-1] if merged else None
        if out.get("output_type") == "stream" and last is not None \
                and last.get("output_type") == "stream" and last.get("name") == out.get("name"):
            merged[-1] = {**last, "text": str(last.get("text", "")) + str(out.get("text", ""))}
        else:
            merged.append(out)
    return merged


def feedback_text(execution: Execution, limit: int | None = 1024) -> str:
    """The text the model gets back for one execution."""
    blocks: list[str] = []
    figure = 0
    for out in _merged_streams(execution.outputs):
        kind = out.get("output_type")
        if kind == "stream":
            text = strip_ansi(out.get("text", ""))
            if text.strip():
                blocks.append(_block(out.get("name", "stdout"), text))
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            if any(k.startswith("image/") for k in data):
                figure += 1
                blocks.append(f"[image {figure}]")
            elif "text/plain" in data:
                text = strip_ansi(data["text/plain"])
                if text.strip():
                    blocks.append(_block(kind, text))
        elif kind == "error":
            blocks.append(_block("error", format_traceback(out)))
    body = "\n\n".join(blocks)
    if execution.truncated:
        body += "\n\n[output truncated]" if body else "[output truncated]"
    body = cut(body, limit)
    notes = []
    note = execution.note.strip().strip(";").strip()
    if execution.status == "timeout":
        notes.append("The code ran too long and was stopped" + (f": {note}." if note else "."))
    elif execution.status == "died":
        notes.append("The kernel died while running this code" + (f": {note}." if note else "."))
    elif note:
        notes.append(f"Note: {note}.")
    if not body:
        body = NO_OUTPUT if execution.status == "ok" else ""
    text = "\n\n".join(p for p in [body, *notes] if p)
    return text or NO_OUTPUT


def image_parts(execution: Execution, limit: int = MAX_IMAGES) -> list[dict[str, Any]]:
    """The execution's figures as OpenAI-style image content parts (for `--images`)."""
    parts = []
    for png in execution.images()[:limit]:
        png = png.strip() if isinstance(png, str) else png
        parts.append({"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}})
    return parts
