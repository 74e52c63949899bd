"""Code out of a ReAct `Action Input:` the way lagent-based harnesses read it.

OpenCompass (opencompass/lagent/actions/ipython_interpreter.py `extract_code`) and Qwen-Agent's
code-interpreter benchmark (`extract_code`) share one rule: the first triple-backtick block,
else the first single-backtick span, else a JSON object's `code` (json5 in OpenCompass; JSON
here), else the text itself. The `cibench` protocol and Qwen-Agent answer replay both use it.
"""

from __future__ import annotations

import json
import re

_TRIPLE_RE = re.compile(r"```[^\n]*\n(.+?)```", re.DOTALL)
_SINGLE_RE = re.compile(r"`([^`]*)`", re.DOTALL)


def lagent_extract_code(text: str) -> str:
    triple, single = _TRIPLE_RE.search(text), _SINGLE_RE.search(text)
    if triple:
        return triple.group(1)
    if single:
        return single.group(1)
    try:
        data = json.loads(text)
    except ValueError:
        return text
    return data["code"] if isinstance(data, dict) and isinstance(data.get("code"), str) else text
