"""`cibench import pybench PYBENCH_ROOT`: PyBench tasks -> single-step `check` tasks.

Layout (Mercury7353/PyBench): `data/meta/task.json` is a list of tasks, each with `index`,
`category1..3`, `user` (the query), `file_paths` (input files, `data/<name>` relative to the
root) and `attachments`; `data/unit_test/tests.py` holds one `test_task_<index>(trajectory)` per
task, which reads the files the agent wrote under `./output/` (`./output/<index>.csv`, ...),
checks the last message of the trajectory (`trajectory[-1]['content']`), or compares an image with
a reference under `./gpt4_output/` (ORB similarity, needs opencv).

Mapping: one `check` step; the instruction is PyBench's `[INFO]The data is uploaded to <paths>`
line plus the query, plus where to save the files its test reads and, when the test looks at the
final message, a request to put the final answer in a string variable `final_answer`. The check
cell is the test function with the module-level helpers and imports it uses, run inside a
private function with `trajectory = [{"role": "assistant", "content": str(final_answer)}]`.
PyBench ships no reference solutions: a task with no `reference` (a code string in its task.json
entry, or `<root>/data/reference/<index>.py`) is reported "no reference" and skipped unless
--include-incomplete (then its reference raises, and `cibench validate` refuses it until someone
writes one).
"""

from __future__ import annotations

import ast
import json
import logging
import re
import textwrap
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

OUTPUT_REF = re.compile(r"""\./output/([^'"\s]+)""")
GPT4_REF = re.compile(r"""\./gpt4_output/([^'"\s]+)""")
NO_REFERENCE = ('raise NotImplementedError("PyBench ships no reference solution: write one here '
                'so that `cibench validate` can check the task")')


def _layout(src: Path) -> tuple[Path, Path, Path]:
    """(root, task.json, tests.py) from a PyBench root or its task.json."""
    if src.is_file():
        meta = src
        root = src.parent.parent.parent if src.parent.name == "meta" else src.parent
    else:
        root = src
        meta = src / "data" / "meta" / "task.json"
    tests = meta.parent.parent / "unit_test" / "tests.py"
    if not tests.is_file():
        tests = root / "data" / "unit_test" / "tests.py"
    if not meta.is_file():
        raise ImportSourceError("no data/meta/task.json", path=src,
                                hint="pass the PyBench root or its task.json")
    if not tests.is_file():
        raise ImportSourceError("no data/unit_test/tests.py beside task.json", path=src)
    return root, meta, tests


class TestModule:
    """tests.py parsed: test functions, helpers and imports, as source text."""

    def __init__(self, path: Path):
        self.text = path.read_text(encoding="utf-8")
        try:
            tree = ast.parse(self.text)
        except SyntaxError as exc:
            raise ImportSourceError(f"tests.py is not Python: {exc.msg}", path=path) from exc
        self.functions: dict[str, ast.FunctionDef] = {}
        self.imports: list[tuple[set[str], str]] = []
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                self.functions[node.name] = node  # a later definition wins, as in Python
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = {(a.asname or a.name).split(".")[0] for a in node.names}
                self.imports.append((names, ast.get_source_segment(self.text, node) or ""))

    def check_code(self, index: str) -> tuple[str, ast.FunctionDef] | None:
        name = f"test_task_{index}"
        if name not in self.functions:
            return None
        needed: list[str] = []
        todo = [name]
        used: set[str] = set()
        while todo:
            fn = todo.pop()
            if fn in needed:
                continue
            needed.append(fn)
            for node in ast.walk(self.functions[fn]):
                if isinstance(node, ast.Name):
                    used.add(node.id)
                    if node.id in self.functions and node.id not in needed:
                        todo.append(node.id)
        imports = [src for names, src in self.imports if names & used]
        defs = [ast.get_source_segment(self.text, self.functions[f]) or "" for f in
                sorted(needed, key=lambda f: self.functions[f].lineno)]
        body = "\n".join(imports) + "\n\n" + "\n\n".join(defs)
        return body, self.functions[name]


def _check_cell(body: str, test: str) -> str:
    inner = textwrap.indent(body.strip("\n"), "    ")
    return (f"def _pybench_check():\n{inner}\n\n"
            f"    _trajectory = [{{'role': 'assistant', "
            f"'content': str(globals().get('final_answer', ''))}}]\n"
            f"    {test}(_trajectory)\n\n"
            f"try:\n    _pybench_check()\nfinally:\n    del _pybench_check")


def _inputs(root: Path, task: dict[str, Any],
            body: str) -> tuple[dict[str, Path | None], str]:
    """(input files by path under `data/`, None where absent; the check code reading the
    reference images from `./data/gpt4_output/`)."""
    inputs: dict[str, Path | None] = {}
    for fp in task.get("file_paths") or []:
        rel = fp[len("data/"):] if fp.startswith("data/") else Path(fp).name
        cand = root / fp
        inputs[rel] = cand if cand.is_file() else None
    for ref in sorted(set(GPT4_REF.findall(body))):
        cand = root / "gpt4_output" / ref
        inputs[f"gpt4_output/{ref}"] = cand if cand.is_file() else None
    body = GPT4_REF.sub(lambda m: f"./data/gpt4_output/{m.group(1)}", body)
    return inputs, body


def _reference(root: Path, task: dict[str, Any], index: str) -> str | None:
    """The task's reference code: its `reference` string, else `data/reference/<index>.py`;
    None when neither holds any code."""
    reference = task.get("reference")
    ref_file = root / "data" / "reference" / f"{index}.py"
    if not isinstance(reference, str) and ref_file.is_file():
        reference = ref_file.read_text(encoding="utf-8")
    if not isinstance(reference, str) or not reference.strip():
        return None
    return reference


def _instruction(task: dict[str, Any], inputs: dict[str, Path | None], body: str,
                 fn: ast.FunctionDef) -> str:
    """PyBench's upload line and query, then where to save what the test reads and, when the
    test reads the trajectory, the request for `final_answer`."""
    paths = ", ".join(f"data/{r}" for r in inputs if not r.startswith("gpt4_output/"))
    parts = [f"[INFO]The data is uploaded to {paths}" if paths else "", task["user"].strip()]
    outputs = sorted(set(OUTPUT_REF.findall(body)))
    if outputs:
        listed = ", ".join(f"`./output/{o}`" for o in outputs)
        parts.append(f"Save the result to {listed} (create the `output` folder if needed).")
    uses_answer = any(isinstance(n, ast.Name) and n.id == "trajectory"
                      for node in fn.body for n in ast.walk(node))
    if uses_answer:
        parts.append("When you are done, assign your final answer, as text, to a "
                     "variable named `final_answer`.")
    return "\n\n".join(p for p in parts if p)


def _info(task: dict[str, Any], meta_path: Path, index: str, opts: ImportOptions,
          issues: list[Skipped]) -> dict[str, Any]:
    """The notebook's `cibench` metadata for one task."""
    info: dict[str, Any] = {
        "title": re.sub(r"\s+", " ", task["user"]).strip()[:70],
        "module": str(task.get("category1", "")).split("\n")[0].strip(),
        "difficulty": "", "language": opts.language,
        "source": {"benchmark": "pybench", "file": meta_path.name, "index": index,
                   "category": [str(task.get(f"category{i}", "")).replace("\n", " ")
                                for i in (1, 2, 3)],
                   "file_paths": list(task.get("file_paths") or [])}}
    if issues:
        info["incomplete"] = [f"{i.reason}: {i.detail}" for i in issues]
    return info


class PyBenchImporter:
    name = "pybench"
    description = "PyBench (data/meta/task.json + data/unit_test/tests.py + input files)"

    def run(self, src: Path, opts: ImportOptions) -> ImportReport:
        root, meta_path, tests_path = _layout(src)
        try:
            tasks = json.loads(meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ImportSourceError(f"task.json is not JSON: {exc.msg}", path=meta_path) from exc
        if not isinstance(tasks, list):
            raise ImportSourceError("task.json must hold a list of tasks", path=meta_path)
        tests = TestModule(tests_path)
        out = check_out(opts)
        report = ImportReport(kind=self.name, out=out)
        copies: dict[str, Path] = {}
        for pos, task in enumerate(tasks):
            index = str(task.get("index", "")) if isinstance(task, dict) else ""
            where = f"task.json[{pos}] (index {index or '?'})"
            if not index or not isinstance(task.get("user"), str):
                report.skipped.append(Skipped(where, "malformed", "needs `index` and `user`"))
                continue
            if not wanted(index, opts):
                continue
            if opts.limit is not None and len(report.written) >= opts.limit:
                break
            inputs = _import_task(root, meta_path, tests, task, index, where, opts, report)
            for rel, p in inputs.items():
                if p is not None:
                    copies[rel] = p
        for rel, p in sorted(copies.items()):
            if copy_data(p, out / "data" / rel):
                report.data_files += 1
        return report


def _import_task(root: Path, meta_path: Path, tests: TestModule, task: dict[str, Any],
                 index: str, where: str, opts: ImportOptions,
                 report: ImportReport) -> dict[str, Path | None]:
    """Write the notebook of one task, or record why not; returns its input files located
    (empty when nothing was written)."""
    found = tests.check_code(index)
    if found is None:
        report.skipped.append(Skipped(where, "malformed", f"no test_task_{index} in "
                                                          "tests.py"))
        return {}
    body, fn = found
    issues: list[Skipped] = []
    inputs, body = _inputs(root, task, body)
    missing = [f"data/{r}" for r, p in inputs.items() if p is None]
    if missing:
        issues.append(Skipped(where, "needs assets", "missing " + ", ".join(missing)))
    reference = _reference(root, task, index)
    if reference is None:
        issues.append(Skipped(where, "no reference", "PyBench ships no reference "
                                                     "solution"))
        reference = NO_REFERENCE
    if issues and not opts.include_incomplete:
        report.skipped.extend(issues)
        return {}
    report.incomplete.extend(issues)
    step = StepSpec(type="check", instruction=_instruction(task, inputs, body, fn),
                    reference=[reference.strip()], checks=[_check_cell(body, fn.name)],
                    module="")
    name = slug(f"pybench-{index}")
    target = report.out / f"{name}.ipynb"
    info = _info(task, meta_path, index, opts, issues)
    write_notebook(target, build_notebook(f"pybench/{name}", [step], info))
    report.written.append(target)
    return inputs
