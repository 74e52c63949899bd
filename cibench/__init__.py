"""cibench: evaluate LLM agents that use a Jupyter code interpreter, notebook by notebook."""

__version__ = "0.1.0"

from .agents import Agent, AgentOptions, OracleAgent, make_agent  # noqa: E402
from .errors import CibenchError, GroundTruthError, KernelError, TaskFormatError  # noqa: E402
from .groundtruth import GroundTruth, build_truth, ensure_truth  # noqa: E402
from .kernel import KernelLimits, KernelSession  # noqa: E402
from .notebook import read_session, render_session, write_session  # noqa: E402
from .records import Execution, Reply, SessionRecord, StepRecord, Turn  # noqa: E402
from .runner import RunOptions, RunResult, rescore, run_benchmark  # noqa: E402
from .session import SessionSettings, run_session  # noqa: E402
from .task import Step, Task, load_task, load_tasks  # noqa: E402
from .report import build_report, write_report  # noqa: E402
from .sandbox import SandboxOptions  # noqa: E402
from .scoring.passk import pass_at_k  # noqa: E402
from .scoring.scorer import score_step  # noqa: E402
from .importers import import_suite  # noqa: E402

__all__ = [
    "Agent", "AgentOptions", "CibenchError", "Execution", "GroundTruth", "GroundTruthError",
    "KernelError", "KernelLimits", "KernelSession", "OracleAgent", "Reply", "RunOptions",
    "RunResult", "SessionRecord", "SessionSettings", "Step", "StepRecord", "Task",
    "TaskFormatError", "Turn", "__version__", "build_truth", "ensure_truth", "load_task",
    "load_tasks", "make_agent", "read_session", "render_session", "rescore", "run_benchmark",
    "run_session", "write_session", "build_report", "write_report", "SandboxOptions",
    "pass_at_k", "score_step", "import_suite",
]
