"""The session notebook: render a `SessionRecord` as an annotated `.ipynb`, and read it back.

What people open in JupyterLab. Top to bottom it reads like the conversation: a header with the
score table, usage and provenance; per step the instruction, the model's prose, one code cell per
attempt with its real outputs (failed attempts tagged), the hidden check, a one-line score note
with plain-text PASS/FAIL badges, and the reference solution under an unmistakable label in a
collapsed cell. Everything else the record holds sits under `metadata.cibench` on cells and on
the notebook, so `read_session` rebuilds the exact record (re-scoring needs no model or kernel).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_notebook

from .collector import clean_name
from .errors import RunDirError, SchemaVersionError
from .fsutil import atomic_write_text
from .records import (
    SCHEMA_VERSION,
    Attempt,
    Execution,
    Reply,
    RunConfig,
    SessionRecord,
    StepRecord,
    StepScore,
    TaskRef,
    Usage,
)

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python", "pygments_lexer": "ipython3", "file_extension": ".py",
                 "mimetype": "text/x-python", "codemirror_mode": {"name": "ipython", "version": 3}}
METRIC_LABELS = [("tool_rate", "Tool"), ("exec_rate", "Exe"), ("num_acc", "Num"),
                 ("text_score", "Text"), ("vis_score", "Vis"), ("vis_data_score", "Vis data"),
                 ("vis_judge_score", "Vis judge"),
                 ("check_rate", "Check")]
MODE_NAMES = {"e2e": "end-to-end", "oracle": "oracle"}


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _quote(text: str) -> str:
    return "\n".join("> " + line if line.strip() else ">" for line in text.splitlines())


#: which steps each metric is pooled over (the denominators shown under the score table)
METRIC_STEPS = {"tool_rate": None, "exec_rate": None, "num_acc": ("num",), "text_score": ("text",),
                "vis_score": ("vis",), "vis_data_score": ("vis",), "vis_judge_score": ("vis",),
                "check_rate": ("check",)}


def _score_table(record: SessionRecord) -> str:
    """The same columns for every session of a run: percent of steps, – where no step of the
    task has that type, and the number of steps each score is taken over."""
    labels = [(k, label) for k, label in METRIC_LABELS
              if k != "vis_judge_score" or record.scores.get(k) is not None]
    counts = []
    for key, _ in labels:
        types = METRIC_STEPS[key]
        counts.append(len(record.steps) if types is None else
                      sum(1 for s in record.steps if s.type in types
                          or (key == "check_rate" and s.check is not None)))
    rows = ["| | " + " | ".join(label for _, label in labels) + " |",
            "|---|" + "---:|" * len(labels),
            "| score (%) | " + " | ".join(_fmt(record.scores.get(k)) for k, _ in labels) + " |",
            "| steps | " + " | ".join(str(n) for n in counts) + " |"]
    return "\n".join(rows)


def _header(record: SessionRecord) -> str:
    run, task, usage = record.run, record.task, record.usage
    title = task.title or task.id
    lines = [f"# {title} · `{run.model}` · {MODE_NAMES.get(run.mode, run.mode)}", ""]
    if record.status != "complete":
        lines += [f"**ERROR (infrastructure, not scored):** {_clean(record.error or '')}", ""]
    lines += _score_table(record), ""
    passed = sum(1 for s in record.steps if s.score and s.score.passed)
    cost = "cost unknown" if usage.cost_usd is None else f"${usage.cost_usd:.4f}"
    lines.append(f"{passed}/{len(record.steps)} steps passed · {usage.model_calls} model calls "
                 f"({usage.cached_calls} from cache) · {usage.tokens_in:,} tokens in / "
                 f"{usage.tokens_out:,} out · {cost} · {usage.model_seconds:.1f} s model, "
                 f"{record.kernel_seconds:.1f} s kernel · scoring `{run.scoring}`")
    lines.append("")
    env = ", ".join(f"{k} {v}" for k, v in sorted(record.environment.items()))
    lines.append(f"Task `{task.path}` (sha256 {task.sha256[:12]}…) · protocol `{run.protocol}` · "
                 f"up to {run.attempts} attempts per step · run `{run.run_id}` · {env}")
    return "\n".join(lines)


def _score_line(step: StepRecord) -> str:
    """One unambiguous line: the verdict, the step type, how many attempts it took, and the
    scorer's note on what was expected and what was found."""
    s = step.score
    if s is None:
        return f"**Result: NOT SCORED** · `{step.type}` step"
    tries = len(step.attempts)
    verdict = "PASS" if s.passed else "FAIL"
    parts = [f"**Result: {verdict}**", f"`{step.type}` step"]
    if s.passed:
        parts.append(f"on attempt {tries}" if tries > 1 else "first attempt")
    elif s.failure:
        parts.append(_clean(s.failure))
    if s.note:
        parts.append(_clean(s.note))
    return " · ".join(parts)


def _clean(text: str) -> str:
    """A line from a model or kernel, safe to show in markdown: no control characters, no
    HTML (see `_no_html`)."""
    return _no_html(clean_name(text, limit=2000))


#: fenced code blocks and inline code spans: markdown shows HTML inside them as text
_CODE_RE = re.compile(r"(```.*?(?:```|\Z)|`[^`\n]*`)", re.DOTALL)


def _no_html(text: str) -> str:
    """Untrusted text (model prose, exception names) for a markdown cell: every `<` outside
    code is backslash-escaped, so no tag reaches the page (nbconvert's HTML export renders raw
    HTML in markdown, scripts and event handlers included)."""
    parts = _CODE_RE.split(text)
    return "".join(part if i % 2 else part.replace("<", "\\<") for i, part in enumerate(parts))


def _attempt_label(step: StepRecord, attempt: Any, attempts_allowed: int) -> str:
    ex = attempt.execution
    if ex is None:
        outcome = "final answer, no code" if attempt.reply.final else \
            f"format error, sent back: {_clean(attempt.reply.format_error)}" \
            if attempt.reply.format_error else "no code"
    elif ex.ok:
        outcome = "ran"
    elif ex.status == "error":
        outcome = f"failed: {_clean(ex.error_name or 'error')}"
    else:
        outcome = f"failed: {ex.status}"
    return f"**Attempt {attempt.index} of {attempts_allowed}** · {outcome}"


def _prose(reply: Reply) -> str:
    """The model's words without the code it ran (that code is the cell right below)."""
    text = reply.prose.strip() or ("" if reply.code else reply.text.strip())
    if reply.code and reply.code.strip() and reply.code.strip() in text:
        for fence in ("```python\n", "```py\n", "```\n"):
            text = text.replace(f"{fence}{reply.code.strip()}\n```", "*(code below)*")
    return _no_html(text)


#: stream lines longer than this are wrapped for display (the cell metadata keeps the original)
WRAP_COLUMNS = 120


def _display_outputs(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a reader sees: tracebacks cut to the model's own frames and the final error, long
    lines wrapped. The exact outputs stay in the cell's metadata (`cibench.outputs`)."""
    shown = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "error" and isinstance(out.get("traceback"), list):
            out = {**out, "traceback": _short_traceback(out["traceback"])}
        elif kind == "stream" and isinstance(out.get("text"), str):
            out = {**out, "text": _wrap(out["text"])}
        shown.append(out)
    return shown


def _short_traceback(lines: list[str]) -> list[str]:
    if len(lines) < 2:
        return lines
    body, last = lines[:-1], lines[-1]
    own = [f for f in body if "Cell In[" in f or "<ipython-input" in f]
    hidden = sum(1 for f in body[1:] if f not in own and "Traceback (most recent call last)" not in f)
    out = own[:]
    if hidden:
        out.append(f"... {hidden} library frame{'s' if hidden > 1 else ''} hidden "
                   "(full traceback: cell metadata cibench.outputs) ...")
    return [*out, last]


def _wrap(text: str) -> str:
    lines = []
    for line in text.split("\n"):
        while len(line) > WRAP_COLUMNS:
            lines.append(line[:WRAP_COLUMNS] + " \u21a9")
            line = line[WRAP_COLUMNS:]
        lines.append(line)
    return "\n".join(lines)


def new_markdown_cell(source: str, metadata: dict[str, Any] | None = None) -> Any:
    """nbformat's cell, without validating each cell on its own: `render_session` validates the
    whole notebook once (per-cell jsonschema validation was most of the cost of writing one)."""
    return nbformat.from_dict({"cell_type": "markdown", "metadata": metadata or {},
                               "source": source})


def new_code_cell(source: str, metadata: dict[str, Any] | None = None) -> Any:
    return nbformat.from_dict({"cell_type": "code", "execution_count": None,
                               "metadata": metadata or {}, "outputs": [], "source": source})


def render_session(record: SessionRecord, expected: dict[int, Execution] | None = None) -> Any:
    """The annotated notebook of a session. `expected` maps step index to the ground-truth
    execution shown under the reference in end-to-end mode."""
    expected = expected or {}
    nb = new_notebook()
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["language_info"] = LANGUAGE_INFO
    head = record.model_dump(mode="json", exclude={"steps"})
    nb.metadata["cibench"] = head
    nb.cells.append(new_markdown_cell(_header(record), metadata={"tags": ["cibench-header"]}))
    count = 0
    n = len(record.steps)
    for step in record.steps:
        step_meta = {"step": step.index, "type": step.type, "instruction": step.instruction,
                     "options": step.options, "gave_up": step.gave_up,
                     "figure_data": step.figure_data}
        nb.cells.append(new_markdown_cell(
            f"## Step {step.index} of {n} · `{step.type}`\n\n{_quote(step.instruction)}",
            metadata={"tags": ["cibench-turn"], "cibench": step_meta}))
        count = _append_attempts(nb.cells, step, record.run.attempts, count)
        if step.gave_up:
            nb.cells.append(new_markdown_cell(
                f"*Gave up after {len(step.attempts)} failed attempts.*",
                metadata={"tags": ["cibench-note"]}))
        count = _append_check(nb.cells, step, count)
        nb.cells.append(new_markdown_cell(_score_line(step), metadata={
            "tags": ["cibench-score"],
            "cibench": {"step": step.index,
                        "score": step.score.model_dump(mode="json") if step.score else None}}))
        count = _append_reference(nb.cells, step, expected.get(step.index), count)
    for number, cell in enumerate(nb.cells):
        cell.id = f"cibench-{number:03d}"  # stable ids: two renderings of a record diff cleanly
    nbformat.validate(nb)
    return nb


def _append_attempts(cells: list[Any], step: StepRecord, attempts_allowed: int,
                     count: int) -> int:
    """Append each attempt's prose cell and, when it ran code, its code cell with the real
    outputs; returns the execution count after them."""
    for attempt in step.attempts:
        reply = attempt.reply.model_dump(mode="json")
        if not reply.get("no_answer"):
            reply.pop("no_answer", None)  # only replayed answer files set it
        if reply.get("format_error") is None:
            reply.pop("format_error", None)  # only the `cibench` protocol sets it
        label = _attempt_label(step, attempt, attempts_allowed)
        prose = _prose(attempt.reply)
        if attempt.execution is None and not prose:
            prose = "*(empty reply)*"
        meta: dict[str, Any] = {"step": step.index, "attempt": attempt.index}
        if attempt.execution is None:
            meta["reply"] = reply
        cells.append(new_markdown_cell(f"{label}\n\n{prose}".strip(), metadata={
            "tags": ["cibench-model-text"], "cibench": meta}))
        if attempt.execution is not None:
            count += 1
            ex = attempt.execution
            tags = ["cibench-attempt"]
            if not ex.ok:
                tags += ["cibench-failed-attempt", "raises-exception"]
            meta = {"step": step.index, "attempt": attempt.index, "reply": reply,
                    "execution": ex.model_dump(mode="json", exclude={"outputs"})}
            if attempt.tampering:
                meta["tampering"] = attempt.tampering
                tags.append("cibench-tampering")
            cells.append(_code_cell(attempt.reply.code or "", ex, count, tags, meta))
    return count


def _append_check(cells: list[Any], step: StepRecord, count: int) -> int:
    """Append the step's hidden check, if it has one; returns the execution count after it."""
    if step.check is not None:
        count += 1
        cells.append(new_markdown_cell("#### Hidden check (run after the step, not shown "
                                       "to the model)",
                                       metadata={"tags": ["cibench-label"]}))
        meta = {"step": step.index, "execution": step.check.model_dump(mode="json",
                                                                       exclude={"outputs"})}
        tags = ["cibench-check"] + ([] if step.check.ok else ["raises-exception"])
        cells.append(_code_cell(step.check_code, step.check, count,
                                tags, meta))
    return count


def _append_reference(cells: list[Any], step: StepRecord, expected: Execution | None,
                      count: int) -> int:
    """Append the collapsed reference solution with the outputs it gave: run in this session
    (oracle mode) or, from `expected`, when ground truth was built; returns the execution
    count after it."""
    ref_outputs = step.reference_run if step.reference_run is not None else expected
    label = ("Reference solution (run in the kernel after the step, oracle mode)"
             if step.reference_run is not None else
             "Reference solution and the output it gave when ground truth was built "
             "(not run in this session)")
    cells.append(new_markdown_cell(f"#### {label}",
                                   metadata={"tags": ["cibench-label"]}))
    meta: dict[str, Any] = {"step": step.index, "reference_run": step.reference_run is not None}
    if step.reference_run is not None:
        meta["execution"] = step.reference_run.model_dump(mode="json", exclude={"outputs"})
    if step.reference_run is not None:
        count += 1  # run in this session's kernel, after the step
    cell = _code_cell(step.reference, ref_outputs,
                      count if step.reference_run is not None else step.index,
                      ["cibench-reference"], meta)
    cell.metadata["jupyter"] = {"source_hidden": True, "outputs_hidden": True}
    cell.metadata["collapsed"] = True
    cells.append(cell)
    return count


def _code_cell(source: str, execution: Execution | None, count: int | None, tags: list[str],
               meta: dict[str, Any]) -> Any:
    cell = new_code_cell(source, metadata={"tags": tags, "cibench": meta})
    cell.execution_count = count
    exact = execution.outputs if execution is not None else []
    shown = _display_outputs(exact)
    if shown != exact:
        cell.metadata["cibench"]["outputs"] = exact
    outputs = []
    for out in shown:
        out = dict(out)
        if out.get("output_type") == "execute_result":
            out["execution_count"] = count
        outputs.append(nbformat.from_dict(out))
    cell.outputs = outputs
    return cell


def write_session(path: str | Path, record: SessionRecord,
                  expected: dict[int, Execution] | None = None) -> None:
    nb = render_session(record, expected)  # validated there
    atomic_write_text(path, nbformat.v4.writes_json(nb))


def _execution(cell: Any) -> Execution:
    meta = dict(cell.metadata.get("cibench", {}).get("execution", {}))
    exact = cell.metadata.get("cibench", {}).get("outputs")
    outputs = []
    for out in (exact if exact is not None else cell.get("outputs", [])):
        out = _plain(out)
        if out.get("output_type") == "execute_result":
            out.pop("execution_count", None)
        outputs.append(out)
    return Execution(outputs=outputs, **meta)


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def read_session(path: str | Path, *, any_schema: bool = False) -> SessionRecord:
    """Rebuild the `SessionRecord` a session notebook was rendered from. A notebook of another
    schema version is refused (SchemaVersionError) unless `any_schema` (reports and exports
    read its stored scores and answers; they never score it again)."""
    path = Path(path)
    try:
        nb = nbformat.read(path, as_version=4)
        head = _plain(nb.metadata["cibench"])
        record = SessionRecord(run=RunConfig(**head["run"]), task=TaskRef(**head["task"]),
                               **{k: v for k, v in head.items()
                                  if k not in ("run", "task", "steps")})
    except Exception as exc:  # not JSON, not a notebook, or not one of ours
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RunDirError(f"not a cibench session notebook ({reason})", path=path) from exc
    if record.schema_version != SCHEMA_VERSION and not any_schema:
        raise SchemaVersionError(
            f"recorded by another cibench (session schema {record.schema_version}, this one "
            f"reads {SCHEMA_VERSION}: kernel message boundaries and output tails are missing); "
            "re-run it with `cibench run`", path=path)
    step: StepRecord | None = None
    for cell in nb.cells:
        tags = set(cell.metadata.get("tags", []))
        meta = _plain(cell.metadata.get("cibench", {}))
        if "cibench-turn" in tags:
            step = StepRecord(index=meta["step"], type=meta["type"],
                              instruction=meta["instruction"], reference="",
                              options=meta.get("options", {}), gave_up=meta.get("gave_up", False),
                              figure_data=meta.get("figure_data"))
            record.steps.append(step)
        elif step is None:
            continue
        elif "cibench-attempt" in tags:
            step.attempts.append(Attempt(index=meta["attempt"], reply=Reply(**meta["reply"]),
                                         execution=_execution(cell),
                                         tampering=meta.get("tampering", [])))
        elif "cibench-model-text" in tags and "reply" in meta:
            step.attempts.append(Attempt(index=meta["attempt"], reply=Reply(**meta["reply"])))
        elif "cibench-check" in tags:
            step.check = _execution(cell)
            step.check_code = cell.source
        elif "cibench-score" in tags:
            step.score = StepScore(**meta["score"]) if meta.get("score") else None
        elif "cibench-reference" in tags:
            step.reference = cell.source
            if meta.get("reference_run"):
                step.reference_run = _execution(cell)
    record.usage = Usage(**head.get("usage", {}))
    return record
