"""The `oracle` agent: answers each step with its reference code (a perfect model)."""

from __future__ import annotations

from ..records import Reply, Turn
from ..task import Step, Task
from .base import AgentOptions


class OracleAgent:
    """Replays the reference solution; every metric should come out at 100."""

    protocol = "oracle"

    def __init__(self, name: str = "oracle", options: AgentOptions | None = None):
        self.name = name

    async def __aenter__(self) -> OracleAgent:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def reply(self, task: Task, step: Step, history: list[Turn]) -> Reply:
        code = step.reference
        return Reply(text=f"```python\n{code}\n```", prose="", code=code)

