"""`cibench import cruxeval cruxeval.jsonl`: CRUXEval problems -> single-step `check` tasks.

Output prediction (default, CRUXEval-O): the instruction shows `f` and the input and asks for the
value of `f(input)` in a variable `answer`; the hidden check is `assert answer == <output>`
(CRUXEval's own test, `assert <output> == <prediction>`, in variable form).
Input prediction (`--task input`, CRUXEval-I): the instruction shows `f` and the output and asks
for the call's arguments as a string in `answer`; the hidden check runs `f(<answer>)` in a private
namespace and compares with the output (CRUXEval's `assert f(<prediction>) == <output>`).
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

OUTPUT_PROMPT = """Here is a Python function:

```python
{code}
```

What does `f({input})` return? Reason about the code and predict the value, then assign it to a \
variable named `answer` as a Python literal, e.g. `answer = [1, 2]`."""

INPUT_PROMPT = """Here is a Python function:

```python
{code}
```

Find arguments for which `f(...)` returns `{output}`. Assign the arguments, exactly as you would \
write them between the parentheses of the call, to a variable named `answer` as a string, e.g. \
`answer = "[1, 2], 3"`."""

OUTPUT_CHECK = "assert answer == {output}, 'answer is not what f returns for the given input'"
INPUT_CHECK = """_crux_ns = {{}}
exec(compile({code!r}, "<cruxeval>", "exec"), _crux_ns)
try:
    assert isinstance(answer, str), "answer must be a string holding the call's arguments"
    assert eval("f(" + answer + ")", _crux_ns) == {output}, "f(answer) is not the given output"
finally:
    del _crux_ns"""


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
                reference = f"answer = {row['output']}"
                check = OUTPUT_CHECK.format(output=row["output"])
            else:
                instruction = INPUT_PROMPT.format(code=row["code"], output=row["output"])
                reference = f"answer = {row['input']!r}"
                check = INPUT_CHECK.format(code=row["code"], output=row["output"])
            try:
                compile(reference, "<reference>", "exec")
                compile(check, "<check>", "exec")
            except SyntaxError as exc:
                report.skipped.append(Skipped(where, "malformed", f"not Python: {exc.msg}"))
                continue
            name = slug(f"{row['id']}-{opts.task}")
            step = StepSpec(type="check", instruction=instruction, reference=[reference],
                            checks=[check], module="")
            info = {"title": f"CRUXEval-{mode} {row['id']}", "module": f"cruxeval-{opts.task}",
                    "difficulty": "", "language": opts.language,
                    "source": {"benchmark": "cruxeval", "file": src.name, "id": row["id"],
                               "task": opts.task, "line": row["_line"]}}
            target = out / f"{name}.ipynb"
            write_notebook(target, build_notebook(f"cruxeval/{name}", [step], info))
            report.written.append(target)
        return report
