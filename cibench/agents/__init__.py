"""Agents: the oracle replay, any litellm model, and the embedded local model."""

from .base import Agent, AgentOptions, known_agents, make_agent, model_slug, register_agent
from .oracle import OracleAgent

__all__ = ["Agent", "AgentOptions", "OracleAgent", "known_agents", "make_agent", "model_slug",
           "register_agent"]
