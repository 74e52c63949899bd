"""Agents: the oracle replay, any litellm model, and the embedded local model.

Importing this package registers them all; none of them imports litellm until a model is called.
"""

from . import llm as _llm  # noqa: F401  (registers the litellm fallback)
from .base import Agent, AgentOptions, known_agents, make_agent, model_slug, register_agent
from .llm import LiteLLMAgent
from .local import LocalAgent
from .oracle import OracleAgent

__all__ = ["Agent", "AgentOptions", "LiteLLMAgent", "LocalAgent", "OracleAgent", "known_agents",
           "make_agent", "model_slug", "register_agent"]
