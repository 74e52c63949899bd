"""Find the code in a model's reply: one shared, forgiving extractor for every protocol.

Order (as CIBench's `extract_code`, made safer): the first fenced block that holds Python
(```python, ```py, ```ipython, ```python3 or an untagged ```; an unclosed fence at the end of a
reply cut by `max_tokens` or a stop sequence counts too), then inline backticks, then a JSON
object with a `code` field. `None` means the reply has no code: the step ends without a tool call.

Inline backticks are where prose and code are hard to tell apart ("the column `price`"), so in
`strict` mode (used for free-form replies) an inline span counts only when it is the whole reply.
CIBench applies the loose rule to the text after `Action Input:`, where anything is meant as code.
"""

from __future__ import annotations

import json
import re

# a fence opens anywhere (ReAct writes "Action Input: ```python"): ``` and an optional info string
_FENCE_RE = re.compile(r"(?P<fence>`{3,})[ \t]*(?P<info>[^\n`]*)\n")
_PY_TAGS = {"", "python", "py", "python3", "py3", "ipython", "ipython3", "jupyter", "pycon"}
_OTHER_CODE_TAGS = {"bash", "sh", "shell", "console", "text", "output", "json", "sql", "r",
                    "markdown", "md", "yaml", "html", "txt", "plaintext", "csv", "diff"}
_INLINE_RE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")


def fenced_blocks(text: str) -> list[tuple[str, str, int, int]]:
    """Every fenced block as (language tag, code, start, end) in reply order; an unclosed last
    fence runs to the end of the text."""
    blocks = []
    pos = 0
    while True:
        m = _FENCE_RE.search(text, pos)
        if not m:
            break
        fence = m.group("fence")
        tag = m.group("info").strip().split()[0].lower() if m.group("info").strip() else ""
        # the closing fence: usually on a line of its own, but sloppy models end a code line with it
        c = re.compile(fence).search(text, m.end())
        if c:
            blocks.append((tag, text[m.end():c.start()], m.start(), c.end()))
            pos = max(c.end(), m.end())
        else:
            blocks.append((tag, text[m.end():], m.start(), len(text)))
            break
    return blocks


def _clean(code: str) -> str | None:
    code = code.strip("\n")
    if not code.strip():
        return None
    # a block written as an IPython session: drop the prompts
    lines = code.splitlines()
    if all(line.startswith((">>> ", "... ")) or line in (">>>", "...") or not line.strip()
           for line in lines) and any(line.startswith(">>>") for line in lines):
        code = "\n".join(line[4:] for line in lines if line.startswith((">>> ", "... ")))
    return code.rstrip() + "\n" if code.strip() else None


def _fenced(text: str) -> tuple[str, int, int] | None:
    """The first Python (or untagged) block; else the first block not tagged as another language."""
    blocks = fenced_blocks(text)
    for tag, code, start, end in blocks:
        if tag in _PY_TAGS and code.strip():
            return code, start, end
    for tag, code, start, end in blocks:
        if tag not in _OTHER_CODE_TAGS and code.strip():
            return code, start, end
    return None


def _json_code(text: str) -> str | None:
    stripped = text.strip()
    if not stripped.startswith("{"):
        m = re.search(r"\{.*\}", stripped, re.DOTALL)
        if not m:
            return None
        stripped = m.group(0)
    try:
        data = json.loads(stripped)
    except ValueError:
        return None
    if isinstance(data, dict):
        for key in ("code", "command", "input"):
            if isinstance(data.get(key), str) and data[key].strip():
                return data[key]
        args = data.get("arguments")
        if isinstance(args, dict) and isinstance(args.get("code"), str):
            return args["code"]
    return None


def extract_code(text: str | None, *, strict: bool = False) -> str | None:
    """The code of a reply, or None when it has none (see the module docstring for the order)."""
    if not text or not text.strip():
        return None
    found = _fenced(text)
    if found:
        return _clean(found[0])
    stripped = text.strip()
    inline = _INLINE_RE.findall(stripped)
    if inline:
        whole = stripped.startswith("`") and stripped.endswith("`") and len(inline) == 1
        if whole or not strict:
            return _clean(inline[0])
    code = _json_code(text)
    return _clean(code) if code else None


def strip_code(text: str) -> str:
    """The reply's prose: the text with its first code block removed (for readers)."""
    found = _fenced(text)
    if not found:
        return text.strip()
    _, start, end = found
    return (text[:start].rstrip() + "\n\n" + text[end:].lstrip()).strip()
