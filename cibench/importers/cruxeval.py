"""`cibench import cruxeval cruxeval.jsonl`: CRUXEval problems -> single-step `check` tasks.

The model's answer is CRUXEval's *generation*, as text, in a variable `answer`:
- output prediction (default, CRUXEval-O): a Python expression of the value `f(<input>)` returns,
  e.g. `answer = "[1, 'a']"` (a value that is not a string is taken as its `repr()`);
- input prediction (`--task input`, CRUXEval-I): a whole call of `f`, e.g. `answer = "f([1, 2], 3)"`.
The hidden check is CRUXEval's own test (evaluation/utils_general.py: evaluate_score), in both
modes: the program `<code>\nassert <output> == <generation>` executed in a fresh namespace with
output swallowed and a 3 s limit (utils_execute.py: check_correctness, time_limit, swallow_io).
A generation CRUXEval leaves out before counting (input mode: no `f(`; output mode: it contains
`f(<input>)`) makes the check raise `CruxEvalSkipped`; sampling.py counts those as CRUXEval does.
"""

from __future__ import annotations

import json
import logging
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
    slug,
    wanted,
    write_notebook,
)

log = logging.getLogger(__name__)

TIME_LIMIT = 3  # seconds: CRUXEval's check_correctness(check_program, timeout=3)
SKIPPED_ERROR = "CruxEvalSkipped"  # the check's exception for a generation CRUXEval does not count

OUTPUT_PROMPT = """Here is a Python function:

```python
{code}
```

What does `f({input})` return? Reason about the code and predict the value. Assign your \
prediction, written as a Python expression, to a variable named `answer` as a string, e.g. \
`answer = "[1, 'a']"` or `answer = "'hello'"`."""

INPUT_PROMPT = """Here is a Python function:

```python
{code}
```

Find a call of `f` that returns `{output}`. Assign the whole call, as you would write it in \
Python, to a variable named `answer` as a string, e.g. `answer = "f([1, 2], 3)"`."""

OUTPUT_TEXT = "_crux_text = answer if isinstance(answer, str) else repr(answer)"
INPUT_TEXT = ('assert isinstance(answer, str), "answer must be a string holding the call, '
              'e.g. \'f([1, 2], 3)\'"\n_crux_text = answer')
OUTPUT_SKIP = "if {needle!r} in _crux_text:\n    raise CruxEvalSkipped(\"the generation contains \" + " \
              "{needle!r} + \": CRUXEval does not count it\")"
INPUT_SKIP = "if \"f(\" not in _crux_text:\n    raise CruxEvalSkipped(\"the generation has no " \
             "`f(`: CRUXEval does not count it\")"

CHECK = """# CRUXEval's own test (evaluation/utils_general.py: evaluate_score; utils_execute.py):
# `<code>\\nassert <output> == <generation>` in a fresh namespace, output swallowed, {limit} s at most.
import contextlib as _crux_cl, io as _crux_io, signal as _crux_sig
class CruxEvalSkipped(Exception):
    \"\"\"CRUXEval leaves this generation out before counting (docs/importers.md).\"\"\"
{text}
{skip}
def _crux_timeout(signum, frame):
    raise TimeoutError("over CRUXEval's {limit} s limit")
_crux_old = _crux_sig.signal(_crux_sig.SIGALRM, _crux_timeout)
_crux_sig.setitimer(_crux_sig.ITIMER_REAL, {limit})
try:
    with _crux_cl.redirect_stdout(_crux_io.StringIO()), \\
            _crux_cl.redirect_stderr(_crux_io.StringIO()):
        exec(compile({code!r} + "\\nassert " + {output!r} + " == " + _crux_text, "<cruxeval>",
                     "exec"), {{}})
finally:
    _crux_sig.setitimer(_crux_sig.ITIMER_REAL, 0)
    _crux_sig.signal(_crux_sig.SIGALRM, _crux_old)"""


def check_code(code: str, input_: str, output: str, task: str) -> str:
    """The hidden check of a CRUXEval task (`task` is "output" or "input")."""
    if task == "output":
        text, skip = OUTPUT_TEXT, OUTPUT_SKIP.format(needle=f"f({input_})")
    else:
        text, skip = INPUT_TEXT, INPUT_SKIP
    return CHECK.format(text=text, skip=skip, code=code, output=output, limit=TIME_LIMIT)


def generation_code(generation: str) -> str:
    """The cell that answers a CRUXEval task with one generation (replayed answers)."""
    return f"answer = {generation!r}"


def read_rows(src: Path) -> list[dict[str, Any]]:
    if not src.is_file():
        raise ImportSourceError("no such file", path=src, hint="pass cruxeval.jsonl")
    rows = []
    for n, line in enumerate(src.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ImportSourceError(f"line {n} is not JSON: {exc.msg}", path=src) from exc
        row["_line"] = n
        rows.append(row)
    return rows


class CruxEvalImporter:
    name = "cruxeval"
    description = "CRUXEval jsonl (code, input, output, id): output (or --task input) prediction"

    def run(self, src: Path, opts: ImportOptions) -> ImportReport:
        if opts.task not in ("output", "input"):
            raise ImportSourceError(f"--task {opts.task!r}: cruxeval has `output` and `input`")
        rows = read_rows(src)
        out = check_out(opts)
        report = ImportReport(kind=self.name, out=out)
        mode = "O" if opts.task == "output" else "I"
        for row in rows:
            where = f"{src.name}:{row['_line']}"
            missing = [k for k in ("code", "input", "output", "id") if not isinstance(row.get(k), str)]
            if missing:
                report.skipped.append(Skipped(where, "malformed", f"no {', '.join(missing)}"))
                continue
            if not wanted(row["id"], opts):
                continue
            if opts.limit is not None and len(report.written) >= opts.limit:
                break
            if mode == "O":
                instruction = OUTPUT_PROMPT.format(code=row["code"], input=row["input"])
                reference = generation_code(row["output"])
            else:
                instruction = INPUT_PROMPT.format(code=row["code"], output=row["output"])
                reference = generation_code(f"f({row['input']})")
            check = check_code(row["code"], row["input"], row["output"], opts.task)
            try:
                compile(reference, "<reference>", "exec")
                compile(check, "<check>", "exec")
            except SyntaxError as exc:
                report.skipped.append(Skipped(where, "malformed", f"not Python: {exc.msg}"))
                continue
            name = slug(f"{row['id']}-{opts.task}")
            step = StepSpec(type="check", instruction=instruction, reference=[reference],
                            checks=[check], module="", options={"time_limit": TIME_LIMIT})
            info = {"title": f"CRUXEval-{mode} {row['id']}", "module": f"cruxeval-{opts.task}",
                    "difficulty": "", "language": opts.language,
                    "source": {"benchmark": "cruxeval", "file": src.name, "id": row["id"],
                               "task": opts.task, "line": row["_line"]}}
            target = out / f"{name}.ipynb"
            write_notebook(target, build_notebook(f"cruxeval/{name}", [step], info))
            report.written.append(target)
        return report
