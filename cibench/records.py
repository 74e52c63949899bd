"""Typed, versioned records: what the kernel produced, what the agent said, what a session was.

`Execution.outputs` are nbformat v4 output dicts (stream, execute_result, display_data, error),
one per kernel message in arrival order (consecutive stream messages are NOT merged: OpenCompass
scores the first stdout message, so the boundaries are part of the record), so a record renders
into a notebook and parses back from one without loss. Outputs cibench adds itself (the "output
cut" and "malformed message" markers) are stderr streams recognised by `is_marker`. Everything scoring
needs lives here; scoring and rendering read only these records.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from .task import StepType

#: 2: one stream output per kernel message (v1 merged consecutive ones), the tail of capped
#: output kept, `update_display_data` marked; a v1 session cannot be scored as OpenCompass does
SCHEMA_VERSION = 2

ExecStatus = Literal["ok", "error", "timeout", "died", "skipped"]
Mode = Literal["e2e", "oracle"]


MARKER_RE = re.compile(r"\n\[cibench: (?:output cut; dropped |\d+ malformed kernel message)")


def is_marker(out: dict[str, Any]) -> bool:
    """Whether an output is a note cibench added (not something the kernel sent)."""
    return (out.get("output_type") == "stream" and out.get("name") == "stderr"
            and bool(MARKER_RE.match(str(out.get("text", "")))))


class Execution(BaseModel):
    """One piece of code run in the kernel and everything it produced."""

    status: ExecStatus = "ok"
    outputs: list[dict[str, Any]] = Field(default_factory=list)
    seconds: float = 0.0
    truncated: bool = False
    note: str = ""  # e.g. "interrupted after 60 s", "kernel restarted"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def error(self) -> dict[str, Any] | None:
        for out in self.outputs:
            if out.get("output_type") == "error":
                return out
        return None

    @property
    def error_name(self) -> str | None:
        err = self.error
        return err.get("ename") if err else None

    def stdout(self) -> str:
        """All stdout messages joined."""
        return "".join(o.get("text", "") for o in self.outputs
                       if o.get("output_type") == "stream" and o.get("name") == "stdout")

    def text(self) -> str:
        """The answer as text: stdout and text/plain results, in order. stderr (warnings,
        cibench's own "output cut" marker) is not part of an answer."""
        parts: list[str] = []
        for out in self.outputs:
            kind = out.get("output_type")
            if kind == "stream":
                if out.get("name") == "stdout":
                    parts.append(out.get("text", ""))
            elif kind in ("execute_result", "display_data"):
                plain = out.get("data", {}).get("text/plain")
                if plain and "image/png" not in out.get("data", {}):
                    parts.append(plain if plain.endswith("\n") else plain + "\n")
        return "".join(parts)

    def result_text(self) -> str:
        """The answer text of a step: the execute_result if any, else stdout (CIBench reads these)."""
        results = [o["data"]["text/plain"] for o in self.outputs
                   if o.get("output_type") == "execute_result" and "text/plain" in o.get("data", {})]
        if results:
            return str(results[-1])
        return self.stdout()

    def images(self) -> list[str]:
        """Base64 PNGs in output order."""
        return [o["data"]["image/png"] for o in self.outputs
                if o.get("output_type") in ("display_data", "execute_result")
                and "image/png" in o.get("data", {})]


class Usage(BaseModel):
    """Cost of model calls; unknown cost stays None (never guessed)."""

    model_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = 0.0
    model_seconds: float = 0.0
    cached_calls: int = 0

    def add(self, other: Usage) -> None:
        self.model_calls += other.model_calls
        self.tokens_in += other.tokens_in
        self.tokens_out += other.tokens_out
        self.model_seconds += other.model_seconds
        self.cached_calls += other.cached_calls
        if self.cost_usd is None or other.cost_usd is None:
            self.cost_usd = None
        else:
            self.cost_usd += other.cost_usd


class Reply(BaseModel):
    """One answer of an agent: its raw text, the prose shown to readers, and the code (if any)."""

    text: str = ""
    prose: str = ""
    code: str | None = None
    final: bool = False  # the agent ended the step without calling the interpreter
    # the protocol could not read the reply as a tool call or a final answer: this message goes
    # back to the model and the step goes on (the `cibench` protocol, as lagent's NoAction)
    format_error: str | None = None
    no_answer: bool = False  # a replayed answers file has nothing for this step (`answers:`)
    tool_call_id: str | None = None
    usage: Usage = Field(default_factory=Usage)


class Attempt(BaseModel):
    """One agent reply within a step and, if it had code, the kernel's execution of it."""

    index: int
    reply: Reply
    execution: Execution | None = None
    tampering: list[str] = Field(default_factory=list)  # why the code was refused (tamper.py)


class StepScore(BaseModel):
    """Per-step metric values in 0..1 (None where the metric does not apply) and why."""

    tool: float = 0.0
    exec: float = 0.0
    num: float | None = None
    text: float | None = None
    vis: float | None = None
    vis_data: float | None = None
    vis_judge: float | None = None  # a vision model's verdict on the figure (--vis-judge)
    check: float | None = None
    passed: bool = False
    failure: str | None = None  # category, e.g. "runtime error: KeyError", "wrong answer"
    note: str = ""  # one line: what was expected and what was found


class StepRecord(BaseModel):
    index: int  # 1-based
    type: StepType
    instruction: str
    reference: str
    options: dict[str, Any] = Field(default_factory=dict)  # per-step settings (tolerance, ...)
    attempts: list[Attempt] = Field(default_factory=list)
    gave_up: bool = False
    check_code: str = ""  # the hidden check cells of the step, joined
    check: Execution | None = None  # their execution after the step
    reference_run: Execution | None = None  # oracle mode: the reference executed after the step
    figure_data: list[dict[str, Any]] | None = None
    score: StepScore | None = None

    def final_execution(self) -> Execution | None:
        """The last attempt that ran code (the step's answer, as CIBench takes it)."""
        for attempt in reversed(self.attempts):
            if attempt.execution is not None:
                return attempt.execution
        return None


class VisJudgeParams(BaseModel):
    """The vision judge a run asks (vis_judge.JudgeSettings; never the API key itself)."""

    model: str
    variant: str = "rubric"
    api_base: str | None = None
    api_key_env: str | None = None


class RunParams(BaseModel):
    """How the model was asked (`RunConfig.params`): its sampling settings and feedback, which
    sample of a `--samples N` run a session is, and the vision judge; any other key is an extra
    model parameter (`--model-arg KEY=VALUE`, `model_args`).

    Written exactly as the free-form dict it replaces (same JSON, so no new schema version):
    model parameters at the top level, and only the keys that were given or read (a session
    without samples has no `sample` key, one made with `RunConfig()` alone has `{}`). Read it by
    attribute; extra model parameters are in `model_args`."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    temperature: float = 0.0
    max_tokens: int = 512
    seed: int | None = None
    feedback_chars: int = 1024
    module_hint: bool = True
    sample: int | None = None  # which sample (1..N) of a --samples N run (sampling.py)
    samples: int | None = None
    vis_judge: VisJudgeParams | None = None

    @property
    def model_args(self) -> dict[str, Any]:
        """The extra model parameters (`--model-arg`), the keys that are not fields."""
        return dict(self.model_extra or {})

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items()
                if k in self.model_fields_set or k in (self.model_extra or {})}


class RunConfig(BaseModel):
    run_id: str
    model: str
    mode: Mode = "e2e"
    protocol: str = "oracle"
    attempts: int = 3
    scoring: str = "default"
    timeout: float = 60.0
    params: RunParams = Field(default_factory=RunParams)


class TaskRef(BaseModel):
    id: str
    path: str
    sha256: str
    title: str = ""
    module: str = ""
    difficulty: str = ""
    language: str = "en"


class SessionRecord(BaseModel):
    """Everything that happened in one (run, model, task); the session notebook is its rendering."""

    schema_version: int = SCHEMA_VERSION
    run: RunConfig
    task: TaskRef
    status: Literal["complete", "error"] = "complete"
    error: str | None = None
    steps: list[StepRecord] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    kernel_seconds: float = 0.0
    started: str = ""
    finished: str = ""
    environment: dict[str, str] = Field(default_factory=dict)
    scores: dict[str, float | None] = Field(default_factory=dict)


class Turn(BaseModel):
    """One entry of the neutral conversation history an agent renders into its protocol."""

    role: Literal["user", "assistant", "tool"]
    text: str = ""
    code: str | None = None
    execution: Execution | None = None
    tool_call_id: str | None = None
    step: int = 0
