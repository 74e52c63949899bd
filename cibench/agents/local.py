"""The embedded local model (`--model local`, the default): a small instruct model that cibench
serves itself on 127.0.0.1 and reaches through the same litellm path as any remote model.

`--model local` uses the default local model; `--model local:<name>` picks another registered one
(`python -m cibench.local_model --list`) or a `.gguf` file. The server starts when the agent's
`async with` opens and always stops when it closes. Calls cost nothing (cost 0.0, not unknown).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..records import Reply, Turn
from ..task import Step, Task
from .base import AgentOptions
from .llm import LiteLLMAgent


class LocalAgent:
    """Starts a `LocalModelServer` and delegates every call to a `LiteLLMAgent` pointed at it."""

    def __init__(self, name: str = "local", options: AgentOptions | None = None, *,
                 local_model: str | None = None, **server_args: Any):
        self.name = name
        self.options = options or AgentOptions()
        self.protocol = self.options.protocol
        self.local_model = local_model
        self.server_args = server_args
        self.server: Any = None
        self._inner: LiteLLMAgent | None = None

    async def __aenter__(self) -> LocalAgent:
        from ..local_model import DEFAULT_LOCAL_MODEL, LocalModelServer

        server = LocalModelServer(self.local_model or DEFAULT_LOCAL_MODEL, **self.server_args)
        await server.__aenter__()
        try:
            options = dataclasses.replace(self.options, api_base=server.api_base,
                                          api_key_env=None)
            inner = LiteLLMAgent(self.name, options, litellm_model=server.litellm_model,
                                 api_key="local", extra_stop=tuple(server.stop), free=True,
                                 cache_model=f"local:{server.name}")
            await inner.__aenter__()
        except BaseException:
            await server.__aexit__(None, None, None)
            raise
        self.server, self._inner = server, inner
        self.protocol = inner.protocol
        return self

    async def __aexit__(self, *exc: object) -> None:
        inner, server, self._inner, self.server = self._inner, self.server, None, None
        try:
            if inner is not None:
                await inner.__aexit__(*exc)
        finally:
            if server is not None:
                await server.__aexit__(*exc)

    async def reply(self, task: Task, step: Step, history: list[Turn]) -> Reply:
        if self._inner is None:
            from ..errors import AgentError
            raise AgentError("the local model is used outside `async with`")
        return await self._inner.reply(task, step, history)

