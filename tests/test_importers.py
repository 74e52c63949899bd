"""Importers: CIBench markdown sources, CRUXEval, Qwen-Agent and PyBench -> task notebooks."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import nbformat
import pytest

from cibench.errors import UnknownNameError
from cibench.groundtruth import build_truth
from cibench.importers import IMPORTERS, ImportOptions, get_importer, import_suite
from cibench.task import load_task, load_tasks

CIBENCH_SMALL = ["generation-matplotlib-experiment46", "generation-scipy-experiment02",
                 "generation-pandas-experiment29"]


def _digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _valid(path: Path) -> None:
    nbformat.validate(nbformat.read(path, as_version=4))
    load_task(path)


def test_registry_names_and_unknown():
    assert set(IMPORTERS) == {"cibench", "cruxeval", "qwen-agent", "pybench"}
    with pytest.raises(UnknownNameError, match="known: cibench, cruxeval, pybench, qwen-agent"):
        get_importer("dsbench")


def test_cibench_sources(shared_dir: Path, tmp_path: Path):
    src = shared_dir / "datasets" / "cibench"
    out = tmp_path / "cibench"
    report = import_suite("cibench", src, ImportOptions(out=out))
    sources = sorted(p for p in src.rglob("*.md") if p.name != "README.md")
    # every source becomes a task, in the release's split/module tree
    assert len(report.written) == len(sources) == 204 and not report.skipped
    tree = {p.relative_to(out).parts[:2] for p in report.written}
    assert ("cibench_template", "pandas") in tree and ("cibench_generation", "scipy") in tree
    by_split = {split: sum(1 for p in report.written if p.relative_to(out).parts[0] == split)
                for split in ("cibench_template", "cibench_generation")}
    assert by_split == {"cibench_template": 73, "cibench_generation": 131}
    marked = {(s.source, s.reason): s.detail for s in report.incomplete}
    assert ("cibench_template/seaborn/seaborn_exp05.md", "mismatched") in marked
    assert "MNIST/raw/train-images-idx3-ubyte" in \
        marked[("cibench_generation/pytorch/experiment02.md", "needs assets")]
    tasks = load_tasks([out])
    assert len({t.id for t in tasks}) == 204
    task = next(t for t in tasks if t.id == "cibench_template/pandas/pandas_exp04")
    assert task.module == "pandas" and task.difficulty and task.metadata["source"]["idx"] == 4
    assert all(s.module for s in task.steps) and not task.missing_assets()
    assert (task.folder / "data" / "pandas_dataset04.xlsx").is_file()
    mnist = next(t for t in tasks if t.id == "cibench_generation/pytorch/experiment02")
    assert any("MNIST" in m for m in mnist.missing_assets())
    mismatched = next(t for t in tasks if t.id == "cibench_template/seaborn/seaborn_exp05")
    assert len(mismatched.steps) == 6 and "positional" in mismatched.metadata["mismatch"]
    # reproducible: a second import writes byte-identical files
    again = tmp_path / "again"
    import_suite("cibench", src, ImportOptions(out=again))
    assert _digests(out) == _digests(again)


def test_cibench_imported_tasks_execute(shared_dir: Path, tmp_path: Path):
    out = tmp_path / "cib"
    import_suite("cibench", shared_dir / "datasets" / "cibench",
                 ImportOptions(out=out, ids=CIBENCH_SMALL))
    tasks = load_tasks([out])
    assert sorted(t.id.rsplit("/", 1)[1] for t in tasks) == sorted(
        n.rsplit("-", 1)[-1] for n in CIBENCH_SMALL)
    for task in tasks:
        truth = asyncio.run(build_truth(task))
        assert len(truth.steps) == len(task.steps)


HEAD = ("---\njupyter:\n  title: t\n  module: pandas\n  difficulty: Easy\n  idx: 1\n"
        "  num_steps: 2\n  step_types:\n    - exec\n    - num\n  modules:\n    - pandas\n"
        "    - pandas & numpy\n---\n\n")


def test_cibench_structure_errors(tmp_path: Path):
    src = tmp_path / "src" / "pandas"
    src.mkdir(parents=True)
    (src / "good.md").write_text(HEAD + "Make x.\n\n```python\nx = 1\n```\n\n```python\ny = 2\n"
                                 "```\n\nPrint x.\n\n```python\nprint(x + y)\n```\n")
    (src / "short.md").write_text(HEAD + "Make x.\n\n```python\nx = 1\n```\n")
    (src / "nofront.md").write_text("Make x.\n\n```python\nx = 1\n```\n")
    report = import_suite("cibench", tmp_path / "src", ImportOptions(out=tmp_path / "out"))
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in report.written) == [
        "src/pandas/good.ipynb", "src/pandas/short.ipynb"]
    bad = {s.source: s.detail for s in report.skipped}
    assert "no front matter" in bad["pandas/nofront.md"]
    marked = {s.source: s.detail for s in report.incomplete}
    assert "1 instruction/code pairs but num_steps is 2" in marked["pandas/short.md"]
    task = load_task(tmp_path / "out" / "src" / "pandas" / "good.ipynb")
    assert task.id == "src/pandas/good"
    assert task.steps[0].reference == "x = 1\ny = 2" and task.steps[1].module == "pandas&numpy"


def test_an_unseen_split_with_chinese_and_mismatched_tasks(tmp_path: Path):
    """A split the importer never saw: English and Chinese template splits sharing file names,
    one source whose cells don't match its front matter, one whose data is missing."""
    for split, text in (("my_template", "Load the file."), ("my_template_chinese", "读取文件。")):
        folder = tmp_path / "src" / split / "pandas"
        (folder / "data").mkdir(parents=True)
        (folder / "data" / "t.csv").write_text("a,b\n1,4\n2,5\n")
        (folder / "exp01.md").write_text(
            HEAD + f"{text}\n\n```python\nimport pandas as pd\ndf = pd.read_csv('data/t.csv')\n```"
            "\n\nSum a.\n\n```python\nint(df['a'].sum())\n```\n")
    mixed = tmp_path / "src" / "my_template" / "pandas"
    (mixed / "exp02.md").write_text(  # three markdown cells, two code cells, num_steps 2
        HEAD + "Load it.\n\n```python\nimport pandas as pd\ndf = pd.read_csv('data/t.csv')\n```\n\n"
        "Sum a.\n\n```python\nint(df['a'].sum())\n```\n\nAnd b?\n")
    (mixed / "exp03.md").write_text(
        HEAD + "Load.\n\n```python\nimport pandas as pd\ndf = pd.read_csv('data/gone.csv')\n```"
        "\n\nSum.\n\n```python\nint(df['a'].sum())\n```\n")
    out = tmp_path / "out"
    report = import_suite("cibench", tmp_path / "src", ImportOptions(out=out))
    assert len(report.written) == 4 and not report.skipped
    tasks = {t.id: t for t in load_tasks([out])}
    assert set(tasks) == {"my_template/pandas/exp01", "my_template/pandas/exp02",
                          "my_template/pandas/exp03", "my_template_chinese/pandas/exp01"}
    assert tasks["my_template_chinese/pandas/exp01"].language == "zh"
    assert tasks["my_template/pandas/exp01"].language == "en"
    assert len(tasks["my_template/pandas/exp02"].steps) == 2  # OpenCompass's zip pairing
    assert "instruction without reference code" in tasks["my_template/pandas/exp02"].metadata["mismatch"]
    assert tasks["my_template/pandas/exp03"].missing_assets() == ["data/gone.csv"]
    assert (out / "my_template_chinese" / "pandas" / "data" / "t.csv").is_file()


@pytest.mark.kernel
def test_needs_assets_is_skipped_counted_then_runs(tmp_path: Path):
    from cibench.runner import RunOptions, run_benchmark

    src = tmp_path / "src" / "split" / "pandas"
    src.mkdir(parents=True)
    (src / "ok.md").write_text(HEAD + "Make x.\n\n```python\nx = 2\n```\n\nPrint x.\n\n"
                               "```python\nprint(x + 1)\n```\n")
    (src / "later.md").write_text(
        HEAD + "Load.\n\n```python\nimport pandas as pd\ndf = pd.read_csv('data/late.csv')\n```"
        "\n\nSum.\n\n```python\nint(df['a'].sum())\n```\n")
    out = tmp_path / "suite"
    import_suite("cibench", tmp_path / "src", ImportOptions(out=out))
    opts = dict(paths=[str(out)], models=["oracle"], out=tmp_path / "run",
                oracle_dir=tmp_path / "oracle", jobs=1)
    first = asyncio.run(run_benchmark(RunOptions(**opts)))
    assert first.skipped == 1 and first.summary["results"][0]["tasks"] == 1
    (skipped,) = first.summary["skipped_tasks"]
    assert skipped["task"] == "split/pandas/later" and "data/late.csv" in skipped["reason"]
    # the files arrive: the same suite runs the task, no re-import
    (out / "split" / "pandas" / "data").mkdir(exist_ok=True)
    (out / "split" / "pandas" / "data" / "late.csv").write_text("a\n1\n2\n")
    second = asyncio.run(run_benchmark(RunOptions(**opts)))
    assert second.skipped == 0 and second.summary["results"][0]["tasks"] == 2
    assert second.summary["results"][0]["metrics"]["num_acc"] == 100.0


def test_cruxeval_validate_and_oracle(shared_dir: Path, tmp_path: Path):
    from cibench.runner import RunOptions, run_benchmark

    src = shared_dir / "datasets" / "cruxeval" / "cruxeval.jsonl"
    out = tmp_path / "cruxeval"
    report = import_suite("cruxeval", src, ImportOptions(out=out, limit=5))
    assert len(report.written) == 5
    inp = import_suite("cruxeval", src, ImportOptions(out=tmp_path / "crux-i", task="input",
                                                      ids=["sample_1"]))
    tasks = [load_task(p) for p in [*report.written, *inp.written]]
    assert tasks[0].steps[0].type == "check" and "answer" in tasks[0].steps[0].instruction
    # run_benchmark validates first (references must pass their hidden checks), then replays
    result = asyncio.run(run_benchmark(RunOptions(
        paths=[str(out), str(inp.written[0])], models=["oracle"], out=tmp_path / "run",
        oracle_dir=tmp_path / "oracle", jobs=2, run_id="crux")))
    row = result.summary["results"][0]
    assert result.errors == 0 and row["tasks"] == 6
    assert row["metrics"]["check_rate"] == 100.0 and row["metrics"]["exec_rate"] == 100.0


QWEN_ROWS = [
    {"query": "What is 17 * 3 + 4?", "tags": "math,ci_math_code", "lang": "en",
     "answer": "17 * 3 = 51, plus 4\n#### 55"},
    {"query": "Count the rows of sales.csv and print the number.", "tags": "general,"
     "ci_open_questions", "lang": "en", "input_file_path": ["upload_file/sales.csv"]},
    {"query": "Plot a histogram of the price column of sales.csv.", "tags": "visualization,"
     "ci_plot", "lang": "en", "input_file_path": ["upload_file/sales.csv"]},
    {"query": "Summarize missing.csv.", "tags": "general", "lang": "en",
     "input_file_path": ["upload_file/missing.csv"]},
    {"query": "no tag here", "tags": "other"},
]


def test_qwen_agent_fixture(tmp_path: Path):
    src = tmp_path / "qwen"
    (src / "upload_file_clean").mkdir(parents=True)
    (src / "upload_file_clean" / "sales.csv").write_text("price\n1\n2\n3\n")
    jsonl = src / "eval_code_interpreter_v1.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in QWEN_ROWS))
    out = tmp_path / "suite"
    report = import_suite("qwen-agent", jsonl, ImportOptions(out=out))
    assert report.counts() == {"written": 2, "incomplete": 0, "malformed": 1,
                               "needs assets": 1, "no reference": 1}
    kinds = {load_task(p).steps[0].type: load_task(p) for p in report.written}
    assert set(kinds) == {"num", "exec"}
    assert kinds["num"].steps[0].reference == "print(55)"
    assert "data/sales.csv" in kinds["exec"].steps[0].instruction
    assert (out / "data" / "sales.csv").is_file()
    for task in kinds.values():
        asyncio.run(build_truth(task))
    inc = import_suite("qwen-agent", jsonl, ImportOptions(out=tmp_path / "inc",
                                                          include_incomplete=True))
    vis = [load_task(p) for p in inc.written if load_task(p).steps[0].type == "vis"]
    assert len(vis) == 1 and vis[0].metadata["judge_only"] is True
    assert vis[0].steps[0].options == {"judge_only": True}


PYBENCH_TESTS = '''
import os
import pandas as pd
import cv2

def helper_rows(df):
    return df.shape[0]

def test_task_2(trajectory):
    df = pd.read_csv('./output/2.csv')
    assert helper_rows(df) == 2
    assert df.duplicated().sum() == 0

def test_task_3(trajectory):
    final_answer = trajectory[-1]['content']
    assert "6" in final_answer

def test_task_4(trajectory):
    assert os.path.exists('./output/4.png')
'''


def test_pybench_fixture(tmp_path: Path):
    root = tmp_path / "PyBench"
    (root / "data" / "meta").mkdir(parents=True)
    (root / "data" / "unit_test").mkdir()
    (root / "data" / "dup.csv").write_text("a,b\n1,2\n1,2\n3,4\n")
    (root / "data" / "unit_test" / "tests.py").write_text(PYBENCH_TESTS)
    tasks = [
        {"index": "2", "category1": "简单数据分析处理\n（pandas）", "user": "Remove duplicated rows",
         "file_paths": ["data/dup.csv"], "attachments": ["📄dup"],
         "reference": "import os, pandas as pd\nos.makedirs('output', exist_ok=True)\n"
                      "pd.read_csv('data/dup.csv').drop_duplicates().to_csv('output/2.csv', "
                      "index=False)"},
        {"index": "3", "user": "What is the sum of column a after removing duplicates?",
         "file_paths": ["data/dup.csv"],
         "reference": "import pandas as pd\nfinal_answer = str(int(pd.read_csv('data/dup.csv')"
                      ".drop_duplicates()['a'].sum()) + 2)"},
        {"index": "4", "user": "Draw a plot", "file_paths": ["data/dup.csv"]},
        {"index": "5", "user": "No test for me", "file_paths": []},
    ]
    (root / "data" / "meta" / "task.json").write_text(json.dumps(tasks, ensure_ascii=False))
    out = tmp_path / "suite"
    report = import_suite("pybench", root, ImportOptions(out=out))
    assert report.counts() == {"written": 2, "incomplete": 0, "malformed": 1, "no reference": 1}
    t2, t3 = (load_task(p) for p in report.written)
    assert "./output/2.csv" in t2.steps[0].instruction
    assert "cv2" not in t2.steps[0].checks[0]  # only the imports the test uses
    assert "final_answer" in t3.steps[0].instruction
    for task in (t2, t3):
        asyncio.run(build_truth(task))  # references pass the PyBench unit tests


def test_cli_import(tmp_path: Path, capsys, shared_dir: Path):
    from cibench.cli import main

    src = shared_dir / "datasets" / "cruxeval" / "cruxeval.jsonl"
    assert main(["import", "cruxeval", str(src), "--out", str(tmp_path / "c"),
                 "--ids", "sample_3", "sample_7"]) == 0
    assert "wrote 2 tasks" in capsys.readouterr().out
    assert main(["import", "nope", str(src), "--out", str(tmp_path / "n")]) == 2
    assert "known: cibench, cruxeval" in capsys.readouterr().err
