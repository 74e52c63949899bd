"""`cibench import qwen-agent eval_code_interpreter_v1.jsonl`: Qwen-Agent's code-interpreter
benchmark -> single-step tasks.

Row format (QwenLM/Qwen-Agent benchmark/inference_and_execute.py, metrics/*.py): `query` (the
user's request; "visualization-easy" rows hold a ReAct prefix `...<|im_end|>` with a first
`Action Input:` whose code was already run), `tags` (comma-separated: general / visualization /
math, with ci_open_questions / ci_plot / ci_math_code), `lang` (en / zh), `input_file_path`
(files the code reads, e.g. `upload_file/x.csv`), optionally `task` ("negative" rows are not
scored there). Math in Qwen-Agent is GSM8K (`question`, `answer` ending `#### <number>`); rows
with a math tag and an `answer` (or `gt`) field are accepted too.

Mapping: math -> `num` step with reference `print(<answer>)`; general -> `exec` step (Qwen-Agent
scores only whether the code runs; the reference is a placeholder that runs); visualization ->
`vis` step with no reference figure: the task is marked `judge_only` (Qwen-Agent judges figures
with a vision model answering right/wrong; use `--vis-judge` with the `binary` variant) and is
reported "no reference" and skipped unless --include-incomplete, since `cibench validate` needs a
reference figure.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

from .common import (
    ImportOptions,
    ImportReport,
    ImportSourceError,
    Skipped,
    StepSpec,
    build_notebook,
    check_out,
    copy_data,
    slug,
    wanted,
    write_notebook,
)

log = logging.getLogger(__name__)

EXEC_PLACEHOLDER = ("# Qwen-Agent's benchmark has no reference solution for this task: an `exec` "
                    "step is scored\n# on whether the model's code runs.\npass")
VIS_PLACEHOLDER = ('raise NotImplementedError("no reference figure: Qwen-Agent judges this '
                   'figure with a vision model (cibench run --vis-judge); write a reference '
                   'here to validate the task")')
NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")


def _tags(row: dict[str, Any]) -> list[str]:
    tags = row.get("tags", [])
    if isinstance(tags, str):
        tags = tags.split(",")
    return [str(t).strip() for t in tags if str(t).strip()]


def category(row: dict[str, Any]) -> str | None:
    tags = set(_tags(row))
    if "question" in row and "answer" in row and "query" not in row:
        return "math"  # a GSM8K row
    if tags & {"math", "ci_math_code", "gsm8k"}:
        return "math"
    if tags & {"visualization", "ci_plot"}:
        return "visualization"
    if tags & {"general", "ci_open_questions"}:
        return "general"
    return None


def math_answer(row: dict[str, Any]) -> str | None:
    """The reference number: GSM8K's text after `####`, else the last number of the answer."""
    for key in ("answer", "gt", "ground_truth", "label"):
        if key in row and row[key] is not None:
            text = str(row[key])
            break
    else:
        return None
    if "####" in text:
        text = text.split("####")[-1]
    nums = NUMBER.findall(text)
    if not nums:
        return None
    value = nums[-1].replace(",", "")
    try:
        float(value)
    except ValueError:
        return None
    return value


def split_query(query: str) -> tuple[str, str | None]:
    """(the user's question, the code of a first action already in the query, or None)."""
    if "<|im_end|>" not in query:
        return query.strip(), None
    head, rest = query.split("<|im_end|>", 1)
    question = re.sub(r"^\s*<\|im_start\|>\s*user\s*\n?", "", head).strip()
    code = None
    m = re.search(r"Action Input:\s*```[^\n]*\n(.*?)```", rest, re.DOTALL)
    if m:
        code = m.group(1).strip("\n")
    return question, code


def query_key(query: str) -> str:
    """How a results row finds its task again (`--model answers:FILE`): a hash of the exact
    `query` (GSM8K: `question`) text, the field Qwen-Agent itself keys its results by."""
    return hashlib.sha256(query.encode("utf-8")).hexdigest()


def _files(row: dict[str, Any]) -> list[str]:
    files = row.get("input_file_path") or []
    if isinstance(files, str):
        files = [files]
    return [str(f) for f in files]


def _find_file(base: Path, name: str) -> Path | None:
    for cand in (base / name, base / "upload_file_clean" / Path(name).name,
                 base / "upload_file" / Path(name).name, base / Path(name).name):
        if cand.is_file():
            return cand
    return None


def _reference(kind: str, row: dict[str, Any]) -> tuple[str, str] | None:
    """(step type, reference code) for a row of `kind`; None for a math row with no number."""
    if kind == "math":
        answer = math_answer(row)
        return None if answer is None else ("num", f"print({answer})")
    if kind == "general":
        return "exec", EXEC_PLACEHOLDER
    return "vis", VIS_PLACEHOLDER


def _instruction(question: str, first_code: str | None,
                 files: list[str]) -> tuple[str, list[str], str | None]:
    """(instruction, setup cells, first action's code) with the row's files under `data/`."""
    instruction = question
    setup = []
    paths = {f: f"data/{Path(f).name}" for f in files}
    if files:
        listed = ", ".join(f"`{p}`" for p in paths.values())
        instruction = f"File path: {listed}.\n\n{question}"
    if first_code:
        for f, p in paths.items():
            first_code = first_code.replace(f, p) if f in first_code else \
                first_code.replace(Path(f).name, p)
        setup.append(first_code)
        instruction += ("\n\nThis code has already been run:\n\n```python\n"
                        f"{first_code}\n```")
    return instruction, setup, first_code


def _info(src: Path, n: int, row: dict[str, Any], kind: str, question: str, query: str,
          first_code: str | None, issues: list[Skipped], opts: ImportOptions) -> dict[str, Any]:
    """The notebook's `cibench` metadata for one row."""
    info: dict[str, Any] = {
        "title": re.sub(r"\s+", " ", question)[:70], "module": kind, "difficulty":
            ("easy" if first_code else "hard") if kind == "visualization" else "",
        "language": str(row.get("lang") or opts.language),
        "source": {"benchmark": "qwen-agent", "file": src.name, "line": n,
                   "tags": _tags(row), "input_file_path": _files(row),
                   "query_sha256": query_key(query)}}
    if kind == "visualization":
        info["judge_only"] = True
    if issues:
        info["incomplete"] = [f"{i.reason}: {i.detail}" for i in issues]
    return info


class QwenAgentImporter:
    name = "qwen-agent"
    description = "Qwen-Agent code-interpreter benchmark jsonl (general / visualization / math)"

    def run(self, src: Path, opts: ImportOptions) -> ImportReport:
        if not src.is_file():
            raise ImportSourceError("no such file", path=src,
                                    hint="pass eval_code_interpreter_v1.jsonl")
        out = check_out(opts)
        report = ImportReport(kind=self.name, out=out)
        copies: dict[str, Path] = {}
        for n, line in enumerate(src.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{src.name}:{n}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                report.skipped.append(Skipped(where, "malformed", f"not JSON: {exc.msg}"))
                continue
            source_id = str(row.get("id", row.get("idx", n)))
            if not wanted(source_id, opts):
                continue
            if opts.limit is not None and len(report.written) >= opts.limit:
                break
            found = self._import_row(src, n, row, source_id, opts, report)
            for name_in_row, located in found.items():
                if located is not None:
                    copies[Path(name_in_row).name] = located
        for rel, path in sorted(copies.items()):
            if copy_data(path, out / "data" / rel):
                report.data_files += 1
        return report

    def _import_row(self, src: Path, n: int, row: dict[str, Any], source_id: str,
                    opts: ImportOptions, report: ImportReport) -> dict[str, Path | None]:
        """Write the task of line `n`, or record why not; returns its input files located
        (empty when nothing was written)."""
        where = f"{src.name}:{n}"
        kind = category(row)
        query = row.get("query", row.get("question"))
        if kind is None or not isinstance(query, str) or not query.strip():
            report.skipped.append(Skipped(where, "malformed",
                                          "needs `query` and a general / visualization / "
                                          f"math tag (tags: {_tags(row)})"))
            return {}
        if "negative" in str(row.get("task", "")):
            report.skipped.append(Skipped(where, "filtered",
                                          "task 'negative' (not scored by Qwen-Agent)"))
            return {}
        question, first_code = split_query(query)
        issues: list[Skipped] = []
        files = _files(row)
        found = {f: _find_file(src.parent, f) for f in files}
        missing = [f for f, p in found.items() if p is None]
        if missing:
            issues.append(Skipped(where, "needs assets", "missing " + ", ".join(missing)))
        reference = _reference(kind, row)
        if reference is None:
            report.skipped.append(Skipped(where, "malformed",
                                          "math row without a numeric reference answer"))
            return {}
        step_type, code = reference
        options: dict[str, Any] = {}
        if kind == "visualization":
            options = {"judge_only": True}
            issues.append(Skipped(where, "no reference",
                                  "visualization: no reference figure (judge_only)"))
        if issues and not opts.include_incomplete:
            report.skipped.extend(issues)
            return {}
        report.incomplete.extend(issues)
        instruction, setup, first_code = _instruction(question, first_code, files)
        name = slug(f"qwen-{kind}-{source_id if 'id' in row or 'idx' in row else f'{n:04d}'}")
        info = _info(src, n, row, kind, question, query, first_code, issues, opts)
        step = StepSpec(type=step_type, instruction=instruction, reference=[code],
                        module="", options=options)
        target = report.out / f"{name}.ipynb"
        write_notebook(target, build_notebook(f"qwen-agent/{name}", [step], info, setup=setup))
        report.written.append(target)
        return found
