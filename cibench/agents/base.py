"""The `Agent` role: given the task, the step and the neutral history, return a `Reply`.

Agents are stateless between calls: the session owns the conversation as a list of `Turn`s and
each agent renders it into its own protocol (ReAct text, native tool calls, markdown). That makes
oracle mode (history rebuilt from references), retries and the response cache straightforward.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..errors import UnknownNameError
from ..paths import model_slug  # noqa: F401  (re-exported)
from ..records import Reply, Turn
from ..registry import Registry
from ..task import Step, Task


@dataclass
class AgentOptions:
    """Everything the CLI can say about how to call a model."""

    protocol: str = "react"
    api_base: str | None = None
    api_key_env: str | None = None
    temperature: float = 0.0
    max_tokens: int = 512
    seed: int | None = None
    model_args: dict[str, Any] = field(default_factory=dict)
    retries: int = 5
    request_timeout: float = 120.0
    cache: bool = True  # keep a response cache in the run folder
    cache_dir: str | None = None  # set by the runner: the model's folder in the run
    images: bool = False
    feedback_chars: int = 1024
    module_hint: bool = True
    price: tuple[float, float] | None = None  # USD per million tokens in, out
    sample: int | None = None  # set by sampling.py: which sample (1..N) this agent answers


@runtime_checkable
class Agent(Protocol):
    """What the session loop needs from a model. Use as `async with agent:`."""

    name: str  # the model name as given by the user
    protocol: str

    async def __aenter__(self) -> Agent: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def reply(self, task: Task, step: Step, history: list[Turn]) -> Reply: ...


AgentFactory = Callable[[str, AgentOptions], Agent]
_FALLBACK: list[AgentFactory] = []

#: model names: the `cibench.agents` entry points, cibench's own (oracle, local, `answers:`) and
#: plugins'; an entry point whose name ends with ":" (e.g. `answers:`) serves every model name
#: that starts with it
AGENTS: Registry[AgentFactory] = Registry("model")


def register_agent(name: str) -> Callable[[AgentFactory], AgentFactory]:
    """Register a factory at run time (tests, notebooks); packages use an entry point."""
    def deco(factory: AgentFactory) -> AgentFactory:
        return AGENTS.register(name, factory)
    return deco


def register_fallback(factory: AgentFactory) -> AgentFactory:
    """The factory for names not in the registry (any litellm model name): not a name, so not an
    entry point."""
    _FALLBACK[:] = [factory]
    return factory


def known_agents() -> list[str]:
    names = AGENTS.names()
    return [n for n in names if not n.endswith(":")] + sorted(
        f"{p}..." for p in names if p.endswith(":"))


def make_agent(model: str, options: AgentOptions | None = None) -> Agent:
    options = options or AgentOptions()
    exact = AGENTS.find(model)
    if exact is not None and not model.endswith(":"):
        return exact(model, options)
    for prefix in AGENTS.names():
        if prefix.endswith(":") and model.startswith(prefix):
            return AGENTS.get(prefix)(model, options)
    if _FALLBACK:
        return _FALLBACK[0](model, options)
    raise UnknownNameError(f"unknown model {model!r}; known: {', '.join(known_agents())}")


