"""Answer files made elsewhere, replayed by `--model answers:FILE` (agents/replay.py).

Three formats, recognised by content (never by file name):

- **CRUXEval generations** (`generations.json` of facebookresearch/cruxeval): one JSON object
  `{"sample_0": ["gen 1", ..., "gen N"], ...}` keyed by CRUXEval id. Sample i of a task (with
  `--samples N`; 1 without) is answered by generation i; an output-mode generation is a value
  expression, an input-mode one a whole call `f(...)`. It answers tasks written by
  `cibench import cruxeval` (matched on `metadata.cibench.source.id`).
- **Qwen-Agent results** (QwenLM/Qwen-Agent `benchmark/inference_and_execute.py`): jsonl, each
  row the benchmark's row plus `gen` (GSM8K rows: `completion`), the model's whole ReAct
  trajectory. Matched to tasks written by `cibench import qwen-agent` through a hash of the row's
  `query` (GSM8K: `question`), the field Qwen-Agent keys its own results by. Each
  `Action Input:` block (up to the next `Observation:`) is one attempt, in order; the recorded
  observations are ignored: cibench executes the code itself.
- **cibench answers** (`cibench export-answers RUN_DIR`): jsonl, one row per attempt:
  `{"task": ID, "step": N, "attempt": K, "reply": TEXT}`, optionally `"sample": I` (1-based, with
  `--samples`) and `"code"` (the exact code that ran, `null` for a reply without code; without
  the field the code is extracted from `reply` as for any model).

`load_answers(path)` reads a file once; `AnswerSet.lookup(task, step, sample)` gives the
attempts for one step or None when the file has no answer for it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .codeblocks import lagent_extract_code
from .errors import UsageError
from .task import Task

log = logging.getLogger(__name__)

FORMATS = ("CRUXEval generations.json ({\"sample_N\": [generations]})",
           "Qwen-Agent results jsonl (rows with `gen`)",
           "cibench answers jsonl ({task, step, attempt, reply})")
ANSWERS_SCHEMA = "cibench-answers/1"
#: file stems that say nothing about the model: the model is named after the parent folder
GENERIC_STEMS = {"generations", "generation", "results", "result", "answers", "answer",
                 "outputs", "output", "predictions", "samples", "responses", "completions"}


class AnswerFileError(UsageError):
    """An answers file is missing, unreadable or in no format cibench understands."""


@dataclass(frozen=True)
class Answer:
    """One attempt's reply: its text and, when the file says so exactly, its code."""

    text: str
    code: str | None = None
    exact_code: bool = False  # True: `code` is what runs (None = the reply has no code)


@dataclass
class AnswerSet:
    path: Path
    format: str  # "cruxeval" | "qwen-agent" | "cibench"
    rows: int = 0
    _cruxeval: dict[str, list[str]] = field(default_factory=dict)
    _qwen: dict[str, list[Answer]] = field(default_factory=dict)
    _cibench: dict[tuple[str, int, int | None], dict[int, Answer]] = field(default_factory=dict)

    def lookup(self, task: Task, step: int, sample: int | None) -> list[Answer] | None:
        """The attempts answering `step` of `task` (sample `sample`), or None."""
        if self.format == "cruxeval":
            return self._lookup_cruxeval(task, step, sample)
        if self.format == "qwen-agent":
            return self._lookup_qwen(task, step)
        return self._lookup_cibench(task, step, sample)

    # -- CRUXEval ------------------------------------------------------------------------------

    def _lookup_cruxeval(self, task: Task, step: int, sample: int | None) -> list[Answer] | None:
        from .importers.cruxeval import generation_code

        source = task.metadata.get("source") or {}
        if source.get("benchmark") != "cruxeval" or step != 1:
            return None
        gens = self._cruxeval.get(str(source.get("id")))
        i = (sample or 1) - 1
        if not gens or i >= len(gens) or not isinstance(gens[i], str):
            return None
        return [Answer(text=gens[i], code=generation_code(gens[i]), exact_code=True)]

    # -- Qwen-Agent ----------------------------------------------------------------------------

    def _lookup_qwen(self, task: Task, step: int) -> list[Answer] | None:
        source = task.metadata.get("source") or {}
        if source.get("benchmark") != "qwen-agent" or step != 1:
            return None
        answers = self._qwen.get(str(source.get("query_sha256")))
        if answers is None:
            return None
        files = [str(f) for f in source.get("input_file_path") or []]
        return [Answer(text=a.text, code=_qwen_paths(a.code, files) if a.code else a.code,
                       exact_code=True) for a in answers]

    # -- cibench -------------------------------------------------------------------------------

    def _lookup_cibench(self, task: Task, step: int, sample: int | None) -> list[Answer] | None:
        found = self._cibench.get((task.id, step, sample))
        if found is None and sample in (None, 1):
            found = self._cibench.get((task.id, step, None if sample else 1))
        if not found:
            return None
        return [found[k] for k in sorted(found)]

    def tasks_answered(self) -> int:
        if self.format == "cruxeval":
            return len(self._cruxeval)
        if self.format == "qwen-agent":
            return len(self._qwen)
        return len({k[0] for k in self._cibench})


def _fail(path: Path, why: str) -> AnswerFileError:
    return AnswerFileError(f"{why}; answer files cibench reads: {'; '.join(FORMATS)}",
                           path=path)


def load_answers(path: str | Path) -> AnswerSet:
    """Read an answers file, recognising its format by content; AnswerFileError otherwise."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _fail(path, "no such answers file") from None
    except IsADirectoryError:
        raise _fail(path, "is a folder, not an answers file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, f"unreadable ({getattr(exc, 'strerror', None) or exc})") from None
    stripped = text.lstrip()
    if not stripped:
        raise _fail(path, "empty file")
    if stripped.startswith("{"):
        try:
            whole = json.loads(text)
        except json.JSONDecodeError:
            whole = None  # jsonl: one object per line
        if isinstance(whole, dict) and _is_cruxeval(whole):
            return AnswerSet(path=path, format="cruxeval", rows=len(whole),
                             _cruxeval={str(k): list(v) for k, v in whole.items()})
        if isinstance(whole, dict) and not _is_row(whole):
            raise _fail(path, "a JSON object that is not CRUXEval generations (values must be "
                              "lists of strings keyed by `sample_N`)")
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _fail(path, f"line {n} is not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise _fail(path, f"line {n} is not a JSON object")
        rows.append((n, row))
    if not rows:
        raise _fail(path, "no rows")
    first = rows[0][1]
    if {"task", "step", "reply"} <= set(first):
        return _load_cibench(path, rows)
    if "gen" in first or ("completion" in first and "question" in first):
        return _load_qwen(path, rows)
    raise _fail(path, f"line {rows[0][0]} has fields {sorted(first)[:8]}, none of the formats")


def _is_cruxeval(data: dict[str, Any]) -> bool:
    return bool(data) and all(isinstance(v, list) and all(isinstance(g, str) for g in v)
                              for v in data.values()) \
        and any(re.fullmatch(r"sample_\d+", str(k)) for k in data)


def _is_row(data: dict[str, Any]) -> bool:
    """A one-line jsonl file parses as one object: a row of the cibench or Qwen-Agent format."""
    return {"task", "step", "reply"} <= set(data) or "gen" in data \
        or {"question", "completion"} <= set(data)


def _load_cibench(path: Path, rows: list[tuple[int, dict[str, Any]]]) -> AnswerSet:
    table: dict[tuple[str, int, int | None], dict[int, Answer]] = {}
    for n, row in rows:
        task, step, attempt, reply = (row.get("task"), row.get("step"), row.get("attempt", 1),
                                      row.get("reply"))
        sample = row.get("sample")
        if not isinstance(task, str) or not isinstance(step, int) or not isinstance(attempt, int) \
                or not isinstance(reply, str) or not (sample is None or isinstance(sample, int)):
            raise _fail(path, f"line {n}: a cibench answers row needs task (string), step, "
                              "attempt (numbers), reply (string) and optionally sample (number)")
        code = row.get("code")
        if "code" in row and not (code is None or isinstance(code, str)):
            raise _fail(path, f"line {n}: `code` must be a string or null")
        slot = table.setdefault((task, step, sample), {})
        if attempt in slot:
            raise _fail(path, f"line {n}: a second row for {task} step {step} attempt {attempt}"
                              + (f" sample {sample}" if sample is not None else ""))
        slot[attempt] = Answer(text=reply, code=code, exact_code="code" in row)
    return AnswerSet(path=path, format="cibench", rows=len(rows), _cibench=table)


def _load_qwen(path: Path, rows: list[tuple[int, dict[str, Any]]]) -> AnswerSet:
    table: dict[str, list[Answer]] = {}
    for n, row in rows:
        query = row.get("query", row.get("question"))
        gen = row.get("gen", row.get("completion"))
        if not isinstance(query, str) or not isinstance(gen, str):
            raise _fail(path, f"line {n}: a Qwen-Agent results row needs `query` (or "
                              "`question`) and `gen` (or `completion`) strings")
        key = hashlib.sha256(query.encode("utf-8")).hexdigest()
        table[key] = qwen_actions(gen)
    return AnswerSet(path=path, format="qwen-agent", rows=len(rows), _qwen=table)


# Qwen-Agent benchmark/metrics/code_execution.py: get_action_input_code and extract_code
_ACTION_INPUT = "\nAction Input:"
_OBSERVATION = "\nObservation:"


def qwen_actions(gen: str) -> list[Answer]:
    """Every `Action Input:` of a ReAct trajectory, in order, as attempts (text, code)."""
    text = "\n" + gen + "\n"
    answers = []
    pos = 0
    while True:
        start = text.find(_ACTION_INPUT, pos)
        if start == -1:
            break
        body_start = start + len(_ACTION_INPUT)
        end = text.find(_OBSERVATION, body_start)
        body = text[body_start:end if end != -1 else len(text)].strip()
        thought_start = text.rfind("\nThought:", pos, start)
        shown = text[thought_start if thought_start != -1 else pos:
                     end if end != -1 else len(text)].strip()
        code = lagent_extract_code(body).replace("/mnt/data/", "").replace("/path/to/", "")
        answers.append(Answer(text=shown, code=code.strip("\n") or None, exact_code=True))
        if end == -1:
            break
        pos = end + len(_OBSERVATION)
    return answers


def _qwen_paths(code: str, files: list[str]) -> str:
    """Qwen-Agent reads input files as `upload_file/<name>` (replace_upload_fname); the
    imported task has them at `data/<name>`."""
    for full in files:
        name = Path(full).name
        target = f"data/{name}"
        if full in code:
            code = code.replace(full, target)
        elif target not in code and name in code:
            code = code.replace(name, target)
    return code


def answers_model_name(spec: str) -> tuple[Path, str]:
    """`answers:FILE[@NAME]` -> (FILE, model name): NAME when given, else the file's stem, or
    its parent folder's name when the stem is generic (every CRUXEval file is generations.json)."""
    rest = spec.split(":", 1)[1] if ":" in spec else spec
    name = None
    if "@" in rest:
        head, tail = rest.rsplit("@", 1)
        if tail and "/" not in tail:
            rest, name = head, tail
    if not rest:
        raise AnswerFileError(f"--model {spec}: give the file, e.g. answers:generations.json")
    path = Path(rest)
    if name is None:
        stem = path.stem
        generic = stem.lower() in GENERIC_STEMS
        parent = path.resolve().parent.name
        name = parent if generic and parent else stem
    return path, name
