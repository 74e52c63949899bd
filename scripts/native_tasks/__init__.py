"""Task definitions of the native suite, one module per theme; each defines TASKS."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Step:
    type: str
    module: str
    instruction: str
    code: str
    check: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Task:
    name: str
    title: str
    module: str
    difficulty: str
    steps: list[Step]
    language: str = "en"


def S(type_: str, module: str, instruction: str, code: str, check: str | None = None,
      **options: Any) -> Step:
    return Step(type_, module, instruction.strip(), code.strip(), check.strip() if check else None,
                options)
