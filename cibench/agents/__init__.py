"""Agents: the oracle replay, any litellm model, the embedded local model, and replayed answer
files (`answers:FILE`).

The named ones (`oracle`, `local`, `answers:`) are `cibench.agents` entry points declared in
setup.cfg (cibench/registry.py); importing this package registers the litellm fallback for every
other name. None of them imports litellm until a model is called.
"""

from . import llm as _llm  # noqa: F401  (registers the litellm fallback)
from .base import Agent, AgentOptions, known_agents, make_agent, model_slug, register_agent
from .llm import LiteLLMAgent
from .local import LocalAgent
from .oracle import OracleAgent
from .replay import ReplayAgent

__all__ = ["Agent", "AgentOptions", "LiteLLMAgent", "LocalAgent", "OracleAgent", "ReplayAgent",
           "known_agents",
           "make_agent", "model_slug", "register_agent"]
