"""cibench: evaluate LLM agents that use a Jupyter code interpreter, notebook by notebook.

The public API is re-exported here and imported lazily: `import cibench` costs nothing, and
`cibench.run_benchmark` imports the runner on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__

#: public name -> the module that defines it
_EXPORTS = {
    "Agent": "agents", "AgentOptions": "agents", "OracleAgent": "agents", "make_agent": "agents",
    "CibenchError": "errors", "GroundTruthError": "errors", "KernelError": "errors",
    "TaskFormatError": "errors",
    "GroundTruth": "groundtruth", "build_truth": "groundtruth", "ensure_truth": "groundtruth",
    "KernelLimits": "kernel", "KernelSession": "kernel",
    "read_session": "notebook", "render_session": "notebook", "write_session": "notebook",
    "Execution": "records", "Reply": "records", "SessionRecord": "records",
    "StepRecord": "records", "Turn": "records",
    "RunOptions": "runner", "RunResult": "summary", "rescore": "rescore",
    "run_benchmark": "runner",
    "SessionSettings": "session", "run_session": "session",
    "Step": "task", "Task": "task", "load_task": "task", "load_tasks": "task",
    "build_report": "report", "write_report": "report",
    "SandboxOptions": "sandbox",
    "pass_at_k": "scoring.passk", "score_step": "scoring.scorer",
    "import_suite": "importers",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cibench' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
