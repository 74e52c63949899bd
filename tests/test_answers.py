"""Replaying answers made elsewhere (`--model answers:FILE`) and `cibench export-answers`.

Fixtures are written here from the formats' published field lists (CRUXEval's README and
evaluate_generations.py; Qwen-Agent's benchmark/inference_and_execute.py; docs/importers.md for
cibench's own). Expected scores are computed by hand in the comments, with CRUXEval's rules
(evaluation/utils_general.py: evaluate_score) where the tasks are CRUXEval's.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from cibench.answers import answers_model_name, load_answers
from cibench.cli import main
from cibench.errors import CibenchError
from cibench.importers import ImportOptions, import_suite
from cibench.notebook import read_session
from cibench.rundir import session_paths
from cibench.runner import RunOptions, run_benchmark

from conftest import write_task


def _run(tmp_path: Path, paths: list[Path], models: list[str], out: str, **kw) -> dict:
    opts = RunOptions(paths=[str(p) for p in paths], models=models, out=tmp_path / out,
                      oracle_dir=tmp_path / "oracle", jobs=2, run_id=out, **kw)
    result = asyncio.run(run_benchmark(opts))
    assert result.errors == 0
    return result.summary


def _row(summary: dict, model: str) -> dict:
    return next(r for r in summary["results"] if r["model"] == model)


def _verdicts(run_dir: Path) -> dict[str, list]:
    """Per session notebook: (passed, failure, check ok) of every step."""
    out = {}
    for path in session_paths(run_dir):
        record = read_session(path)
        out[path.relative_to(run_dir).as_posix().split("/", 1)[1]] = [
            (s.score.passed, s.score.failure, s.check.ok if s.check else None)
            for s in record.steps]
    return out


# ---------------------------------------------------------------------------------- CRUXEval

CRUX_O = {  # sample_0..2 of cruxeval.jsonl; 5 generations each (R right, W wrong, S skipped)
    # f([1, 1, 3, 1, 3, 1]) == [(4, 1), (4, 1), (4, 1), (4, 1), (2, 3), (2, 3)]
    "sample_0": ["[(4, 1), (4, 1), (4, 1), (4, 1), (2, 3), (2, 3)]",  # R
                 "[(4, 1), (2, 3)]",  # W
                 "[(4, 1), (4",  # malformed: SyntaxError
                 # W, and it breaks `isinstance` for good in its process: the next checks
                 # (which call isinstance) pass only if nothing leaks between checks
                 "setattr(__import__('builtins'), 'isinstance', None) or 0",
                 "[(4, 1)] * 4 + [(2, 3)] * 2"],  # R (any expression of the value)
    # f((1, ), (1, ), (1, 2)) == {1: None, 2: None}
    "sample_1": ["f((1, ), (1, ), (1, 2))",  # S: contains f(<input>)
                 # W; starts a process that must not outlive the check
                 "__import__('subprocess').Popen(['sleep', '61.25']) and {1: None}",
                 "{2: None}",  # W
                 "f((1, ), (1, ), (1, 2)) ",  # S
                 # R as CRUXEval pastes it: `assert o == {...}, 'x'` (the comma starts the
                 # assert's message), although the value `({...}, 'x')` is not the output
                 "{1: None, 2: None}, 'x'"],
    # f('hbtofdeiequ') == 'hbtofdeiequ'
    "sample_2": ["f('hbtofdeiequ')",  # S
                 "'hbtofdeique'",  # W
                 "hbtofdeiequ",  # NameError
                 "(lambda: [0 for _ in iter(int, 1)])()",  # endless Python loop: the 3 s alarm
                 # blocks SIGALRM, then loops: the alarm cannot stop it, the worker's kill does
                 ("(__import__('signal').pthread_sigmask(__import__('signal').SIG_BLOCK, "
                  "{__import__('signal').SIGALRM}), [0 for _ in iter(int, 1)])")],
}
# CRUXEval's counting: sample_0 keeps all 5, c=2 -> pass@1 2/5, pass@5 1.
# sample_1 keeps 3 (W, W, R), c=1, n=3 -> pass@1 1/3; pass@5: n-c=2 < 5 -> 1.
# sample_2 keeps 4, none passes -> 5 x False -> 0 and 0.
# pass@1 = (0.4 + 1/3 + 0) / 3 = 24.44 %; pass@5 = (1 + 1 + 0) / 3 = 66.67 %.

CRUX_I = {  # input prediction: a whole call
    # f('bcksrut', 'q') == 'bcksrutq'
    "sample_3": ["f('bcksrut', 'q')",  # R
                 "'bcksrut', 'q'"],  # S: no `f(`
    # f([' ', '  ', '    ', '   ']) == '           '
    "sample_4": ["f([' ', '  ',",  # malformed
                 "f([' ', '  ', '    ', '   '])"],  # R
}
# sample_3 keeps 1 (R) -> pass@1 1, pass@2 1; sample_4: c=1, n=2 -> pass@1 0.5, pass@2 1.
# pass@1 = 75 %, pass@2 = 100 %.


def _crux_suite(shared_dir: Path, tmp_path: Path, task: str, ids: list[str]) -> Path:
    src = shared_dir / "datasets" / "cruxeval" / "cruxeval.jsonl"
    out = tmp_path / f"crux-{task}"
    report = import_suite("cruxeval", src, ImportOptions(out=out, task=task, ids=ids))
    assert len(report.written) == len(ids)
    return out


def _leftover(marker: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmd:
            found.append(cmd)
    return found


def test_cruxeval_imports_every_row_in_both_modes(shared_dir: Path, tmp_path: Path):
    src = shared_dir / "datasets" / "cruxeval" / "cruxeval.jsonl"
    for task in ("output", "input"):
        report = import_suite("cruxeval", src, ImportOptions(out=tmp_path / task, task=task))
        assert len(report.written) == 800 and not report.skipped, report.summary()


def test_cruxeval_output_replay_scores_as_cruxeval(shared_dir: Path, tmp_path: Path):
    suite = _crux_suite(shared_dir, tmp_path, "output", list(CRUX_O))
    folder = tmp_path / "codellama-7b_temp0.2_output"
    folder.mkdir()
    (folder / "generations.json").write_text(json.dumps(CRUX_O, indent=1))
    summary = _run(tmp_path, [suite], [f"answers:{folder / 'generations.json'}"], "crux-o",
                   samples=5)
    row = _row(summary, "codellama-7b_temp0.2_output")  # named after the folder
    assert row["pass_at_k"] == {"pass@1": 24.44, "pass@5": 66.67}
    assert row["samples"] == 5 and row["tasks"] == 3 and row["sessions"] == 15
    assert row["cruxeval_skipped"] == 3 and row["no_answer"] == 0
    # every generation ran (tool, exec 100); checks: R x3 pass of 15
    assert row["metrics"]["check_rate"] == 20.0 and row["metrics"]["exec_rate"] == 100.0
    verdicts = _verdicts(tmp_path / "crux-o")
    assert verdicts["crux-output/sample_0-output.sample-5.ipynb"][0][0] is True  # after poison
    assert verdicts["crux-output/sample_1-output.sample-5.ipynb"][0][0] is True
    record = read_session(tmp_path / "crux-o" / "codellama-7b_temp0.2_output" / "crux-output"
                          / "sample_2-output.sample-5.ipynb")
    assert record.steps[0].check.status == "timeout"  # killed after 3 + 1 s
    loop = read_session(tmp_path / "crux-o" / "codellama-7b_temp0.2_output" / "crux-output"
                        / "sample_2-output.sample-4.ipynb")
    assert loop.steps[0].check.error_name == "TimeoutError"  # CRUXEval's own 3 s alarm
    assert not _leftover("sleep 61.25"), "a generation's process outlived its check"


def test_cruxeval_input_replay_fast_and_kernel_agree(shared_dir: Path, tmp_path: Path):
    suite = _crux_suite(shared_dir, tmp_path, "input", list(CRUX_I))
    gens = tmp_path / "gens.json"
    gens.write_text(json.dumps(CRUX_I))
    fast = _row(_run(tmp_path, [suite], [f"answers:{gens}@m"], "fast", samples=2), "m")
    assert fast["pass_at_k"] == {"pass@1": 75.0, "pass@2": 100.0}
    assert fast["cruxeval_skipped"] == 1
    # the same sessions in real kernels give the same verdicts
    slow = _row(_run(tmp_path, [suite], [f"answers:{gens}@m"], "kernel", samples=2,
                     fast_path=False), "m")
    assert slow["pass_at_k"] == fast["pass_at_k"] and slow["metrics"] == fast["metrics"]
    assert _verdicts(tmp_path / "fast") == _verdicts(tmp_path / "kernel")
    record = read_session(next(p for p in session_paths(tmp_path / "kernel")))
    assert "fast path" not in record.steps[0].check.note
    # export, then replay: the same scores again
    assert main(["export-answers", str(tmp_path / "fast"), "--out", str(tmp_path / "a.jsonl")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and {r["sample"] for r in rows} == {1, 2}
    again = _row(_run(tmp_path, [suite], [f"answers:{tmp_path / 'a.jsonl'}@m"], "again",
                      samples=2), "m")
    assert again["pass_at_k"] == fast["pass_at_k"] and again["metrics"] == fast["metrics"]


def test_cruxeval_missing_generations_are_counted(shared_dir: Path, tmp_path: Path):
    suite = _crux_suite(shared_dir, tmp_path, "output", ["sample_0", "sample_2"])
    gens = tmp_path / "generations.json"  # sample_2 absent; sample_0 has 1 of 2 generations
    gens.write_text(json.dumps({"sample_0": ["[(4, 1), (4, 1), (4, 1), (4, 1), (2, 3), (2, 3)]"]}))
    row = _row(_run(tmp_path, [suite], [f"answers:{gens}@short"], "short", samples=2), "short")
    # sample_0: [R, no answer] -> 1/2; sample_2: two no answers -> 0. pass@1 = 25 %
    assert row["pass_at_k"] == {"pass@1": 25.0, "pass@2": 50.0}
    assert row["no_answer"] == 3 and row["failures"] == {"no answer": 3}
    assert row["sessions"] == 4  # never dropped


# ---------------------------------------------------------------------------------- Qwen-Agent

QWEN_ROWS = [
    {"query": "What is 17 * 3 + 4?", "tags": "math,ci_math_code", "lang": "en",
     "answer": "#### 55"},
    {"query": "What is 6 * 7?", "tags": "math,ci_math_code", "lang": "en", "answer": "#### 42"},
    {"query": "Count the rows of sales.csv and print the number.", "tags": "general,"
     "ci_open_questions", "lang": "en", "input_file_path": ["upload_file/sales.csv"]},
    {"query": "Print the column names of sales.csv.", "tags": "general,ci_open_questions",
     "lang": "en", "input_file_path": ["upload_file/sales.csv"]},
    {"query": "Describe sales.csv.", "tags": "general,ci_open_questions", "lang": "en",
     "input_file_path": ["upload_file/sales.csv"]},
]


def _react(*actions: tuple[str, str]) -> str:
    parts = []
    for code, observation in actions:
        parts.append(f"Thought: I should run code.\nAction: code_interpreter\nAction Input: "
                     f"```py\n{code}\n```\nObservation: {observation}\n")
    return "".join(parts) + "Thought: I now know the final answer\nFinal Answer: done"


QWEN_GENS = [  # the results file: the rows plus `gen` (the last row has no result)
    _react(("print(17 * 3 + 4)", "55")),  # right
    _react(("print(6 * 8)", "48")),  # wrong number
    _react(("import pandas as pd\ndf = pd.read_csv('sales.csv')\nprint(len(df))", "3")),
    _react(("print(undefined_name)", "error: NameError"),  # fails, then the second runs
           ("import pandas as pd\nprint(list(pd.read_csv('upload_file/sales.csv').columns))",
            "['a', 'b']")),
]


def test_qwen_agent_results_replay(tmp_path: Path):
    src = tmp_path / "qwen"
    (src / "upload_file").mkdir(parents=True)
    (src / "upload_file" / "sales.csv").write_text("a,b\n1,2\n3,4\n5,6\n")
    (src / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in QWEN_ROWS))
    report = import_suite("qwen-agent", src / "eval.jsonl", ImportOptions(out=tmp_path / "qa"))
    assert len(report.written) == 5
    results = tmp_path / "out" / "general_qwen-14b-chat_res.jsonl"
    results.parent.mkdir()
    results.write_text("".join(json.dumps({**row, "gen": gen}, ensure_ascii=False) + "\n"
                               for row, gen in zip(QWEN_ROWS, QWEN_GENS, strict=False)))
    assert load_answers(results).format == "qwen-agent"
    row = _row(_run(tmp_path, [tmp_path / "qa"], [f"answers:{results}"], "qwen"),
               "general_qwen-14b-chat_res")
    # 5 steps: 4 answered and run (tool, exec 4/5); math: 1 of 2 right; one no answer
    assert row["metrics"]["tool_rate"] == 80.0 and row["metrics"]["exec_rate"] == 80.0
    assert row["metrics"]["num_acc"] == 50.0
    assert row["failures"] == {"no answer": 1, "wrong answer": 1} and row["no_answer"] == 1
    records = {read_session(p).task.title: read_session(p)
               for p in session_paths(tmp_path / "qwen")}
    two = records["Print the column names of sales.csv."].steps[0]
    assert [a.execution.status for a in two.attempts] == ["error", "ok"]
    assert "data/sales.csv" in two.attempts[1].reply.code  # upload_file/ mapped to data/
    assert "Observation" not in two.attempts[1].reply.code


# ------------------------------------------------------------------------ cibench's own format

CALC = [{"type": "num", "instruction": "Print 6 times 7.", "code": "print(6 * 7)"},
        {"type": "text", "instruction": "Print a greeting.", "code": "print('hello world')"}]
CHK = [{"type": "check", "instruction": "Set x to 3.", "code": "x = 3",
        "checks": ["assert x == 3"]}]


def test_cibench_answers_and_export_round_trip(tmp_path: Path):
    suite = tmp_path / "suite"
    write_task(suite, "calc", CALC)
    write_task(suite, "chk", CHK)
    answers = tmp_path / "mine.jsonl"
    answers.write_text("\n".join(json.dumps(r) for r in [
        {"task": "suite/calc", "step": 1, "attempt": 1, "reply": "```python\nprint(6 * 7\n```"},
        {"task": "suite/calc", "step": 1, "attempt": 2, "reply": "Fixed:\n```python\nprint(42)\n```"},
        # no row for calc step 2: no answer
        {"task": "suite/chk", "step": 1, "attempt": 1, "reply": "```python\nx = 4\n```"},
    ]) + "\n")
    row = _row(_run(tmp_path, [suite], [f"answers:{answers}"], "mine"), "mine")
    # calc 1: syntax error, then 42 (num right); calc 2: no answer; chk: runs, check fails
    assert row["metrics"] == {"tool_rate": 66.67, "exec_rate": 66.67, "num_acc": 100.0,
                              "text_score": 0.0, "vis_score": None, "check_rate": 0.0}
    assert row["failures"] == {"check failed": 1, "no answer": 1} and row["no_answer"] == 1
    # the oracle in kernels, exported and replayed, scores the same (100 everywhere)
    oracle = _row(_run(tmp_path, [suite], ["oracle"], "oracle"), "oracle")
    for run, _model in (("mine", "mine"), ("oracle", "oracle")):
        exported = tmp_path / f"{run}.answers.jsonl"
        assert main(["export-answers", str(tmp_path / run), "--out", str(exported)]) == 0
        # through the command line this time (default sandbox and limits)
        assert main(["-q", "run", str(suite), "--model", f"answers:{exported}@{run}-again",
                     "--out", str(tmp_path / f"{run}-again"), "--oracle-dir",
                     str(tmp_path / "oracle")]) == 0
        summary = json.loads((tmp_path / f"{run}-again" / "summary.json").read_text())
        replayed = _row(summary, f"{run}-again")
        original = row if run == "mine" else oracle
        assert replayed["metrics"] == original["metrics"]
        assert replayed["failures"] == original["failures"]
        assert _verdicts(tmp_path / f"{run}-again") == _verdicts(tmp_path / run)
    assert oracle["metrics"]["check_rate"] == 100.0 and oracle["metrics"]["num_acc"] == 100.0
    lines = (tmp_path / "mine.answers.jsonl").read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[0])["code"].strip() == "print(6 * 7"


# ------------------------------------------------------------------------------------ errors

def test_model_names():
    assert answers_model_name("answers:x/codellama/generations.json")[1] == "codellama"
    assert answers_model_name("answers:x/codellama/generations.json@cl7")[1] == "cl7"
    assert answers_model_name("answers:out/general_qwen_res.jsonl")[1] == "general_qwen_res"


def _fails(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_bad_answer_files_get_one_line(tmp_path: Path, capsys):
    suite = tmp_path / "suite"
    write_task(suite, "chk", CHK)
    base = ["run", str(suite), "--out", str(tmp_path / "r"), "--oracle-dir",
            str(tmp_path / "o")]
    missing = tmp_path / "nope.json"
    err = _fails(capsys, [*base, "--model", f"answers:{missing}"])
    assert str(missing) in err and "no such answers file" in err and "CRUXEval" in err
    csv = tmp_path / "preds.csv"
    csv.write_text("a,b\n1,2\n")
    err = _fails(capsys, [*base, "--model", f"answers:{csv}"])
    assert str(csv) in err and "Qwen-Agent" in err and "cibench answers" in err
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"sample_0": 3}))
    assert str(other) in _fails(capsys, [*base, "--model", f"answers:{other}"])
    for d in ("a", "b"):  # two files that would both be called "m"
        (tmp_path / d / "m").mkdir(parents=True)
        (tmp_path / d / "m" / "generations.json").write_text('{"sample_0": ["1"]}')
    err = _fails(capsys, [*base, "--model", f"answers:{tmp_path}/a/m/generations.json",
                          "--model", f"answers:{tmp_path}/b/m/generations.json"])
    assert "would both be written" in err and "@NAME" in err
    assert not (tmp_path / "r").exists()  # refused before anything was written
    with pytest.raises(CibenchError, match="no such run folder"):
        from cibench.export import export_answers
        export_answers(tmp_path / "absent")
