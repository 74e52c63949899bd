"""The one scripted agent tests share: it answers each step with chosen code, attempt by attempt.

    ScriptedAgent({2: ["df['b'].sum()", None]})   # step 2: this code, then give up; others: reference
    ScriptedAgent(lambda step: ["print(1)"])        # a script computed from the step
    register_scripted("name", {...})                # usable as `--model name` / RunOptions(models=...)

`script[step]` lists one answer per attempt (the last repeats); `None` is a reply without code
(the step ends with the agent's final answer). A step missing from the script gets its reference.
The attempt number comes from the history, so one agent can serve any number of sessions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cibench.agents.base import register_agent
from cibench.records import Reply, Turn
from cibench.task import Step, Task

Script = dict[int, list[str | None]] | Callable[[Step], list[str | None]]


class ScriptedAgent:
    protocol = "scripted"

    def __init__(self, script: Script | None = None, *, name: str = "scripted",
                 thought: str = "Thought: try",
                 on_reply: Callable[[Step, int, list[Turn]], None] | None = None):
        self.name = name
        self.script: Script = script if script is not None else {}
        self.thought = thought
        self.on_reply = on_reply
        self.histories: list[list[Turn]] = []
        self.calls = 0

    async def __aenter__(self) -> ScriptedAgent:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def reply(self, task: Task, step: Step, history: list[Turn]) -> Reply:
        self.histories.append(history)
        self.calls += 1
        attempt = sum(1 for t in history if t.role == "assistant" and t.step == step.index)
        if self.on_reply is not None:
            self.on_reply(step, attempt, history)
        answers = (self.script(step) if callable(self.script)
                   else self.script.get(step.index, [step.reference]))
        code = answers[min(attempt, len(answers) - 1)]
        if code is None:
            return Reply(text="I cannot do that.", prose="I cannot do that.", final=True)
        fenced = f"```python\n{code}\n```"
        return Reply(text=f"{self.thought}\n{fenced}" if self.thought else fenced,
                     prose=self.thought, code=code)


def register_scripted(name: str, script: Script, **kw: Any) -> list[ScriptedAgent]:
    """Register `name` as a model that answers from `script`; returns the agents made (one per
    run, or per sample with --samples) so a test can count their calls."""
    made: list[ScriptedAgent] = []

    def factory(model: str, options: Any) -> ScriptedAgent:
        agent = ScriptedAgent(script, name=model, **kw)
        made.append(agent)
        return agent
    register_agent(name)(factory)
    return made
