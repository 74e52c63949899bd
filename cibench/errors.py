"""One exception hierarchy for cibench.

Every error a user can cause (bad notebook, bad flag, unknown model, unreachable server) is a
`CibenchError` whose `str()` is a one-line message naming where it happened and how to fix it.
The CLI prints that line and exits with status 2; `--debug` adds the traceback.

A model's bad code is never an exception: it is recorded in the session and scored.
"""

from __future__ import annotations

from pathlib import Path


class CibenchError(Exception):
    """Base class: a problem the user can fix, with where it happened."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | Path | None = None,
                 cell: int | None = None, step: int | None = None, hint: str | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        self.cell = cell
        self.step = step
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.path:
            where.append(self.path)
        if self.cell is not None:
            where.append(f"cell {self.cell}")
        if self.step is not None:
            where.append(f"step {self.step}")
        text = (", ".join(where) + ": " if where else "") + self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class TaskFormatError(CibenchError):
    """A task notebook does not follow docs/task-format.md."""


class GroundTruthError(CibenchError):
    """A task's reference cells fail or lack the output its step type needs."""


class KernelError(CibenchError):
    """The evaluation kernel could not be started or talked to (infrastructure, not the model)."""


class KernelEnvError(CibenchError):
    """The kernel's own Python environment cannot be installed, found or run."""


class AgentError(CibenchError):
    """An agent could not produce a reply for infrastructure reasons (API down, bad config)."""


class UnknownNameError(CibenchError):
    """A name looked up in a registry (agent, protocol, scorer, importer) is not known."""


class RegistryError(CibenchError):
    """cibench's own built-ins (models, protocols, importers, scoring profiles) are not registered:
    no entry points in the installed metadata and no source checkout to read them from."""


class LocalModelError(AgentError):
    """The embedded local model could not be set up or started."""


class RunDirError(CibenchError):
    """A run directory is unusable (another run's config, unreadable records)."""


class SchemaVersionError(RunDirError):
    """A record written by another cibench, in a schema this one cannot score faithfully."""


class SandboxError(CibenchError):
    """The OS cannot contain the kernel as asked (--no-network, --kernel-user)."""


class UsageError(CibenchError):
    """A command-line flag or argument is wrong."""


class ExecutorError(CibenchError):
    """Sessions cannot be sent where `--executor` says (Ray missing or unreachable, a model
    the executor cannot run)."""
