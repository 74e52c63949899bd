"""The task notebook parser: good notebooks and each kind of malformed one."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from cibench.errors import TaskFormatError
from cibench.task import find_task_paths, load_task, load_tasks

from conftest import REPO, SMALL_DATA, SMALL_STEPS, write_task


def test_small_task_parses(small_task: Path) -> None:
    task = load_task(small_task)
    assert task.id == "suite/small"
    assert [s.type for s in task.steps] == ["exec", "num", "text", "vis", "check"]
    assert task.steps[1].reference == "int(df['a'].sum())"
    assert task.steps[4].checks and "out.csv" in task.steps[4].checks[0]
    assert task.steps[1].cell == 2  # notebook index of step 2's instruction
    assert len(task.sha256) == 64


def test_demo_suite_parses() -> None:
    tasks = load_tasks([REPO / "notebooks" / "demo"])
    assert len(tasks) >= 3
    kinds = {s.type for t in tasks for s in t.steps}
    assert {"num", "text", "vis", "check"} <= kinds
    assert all(4 <= len(t.steps) <= 8 for t in tasks)


def test_setup_cells_and_multiple_reference_cells(tmp_path: Path) -> None:
    path = write_task(tmp_path / "s", "t", [
        {"type": "num", "instruction": "x?", "code": ["x = 1", "x + 1"]}], setup=["import os"])
    task = load_task(path)
    assert task.setup == ("import os",)
    assert task.steps[0].reference == "x = 1\nx + 1"


def test_hash_changes_with_data(tmp_path: Path) -> None:
    path = write_task(tmp_path / "s", "t", SMALL_STEPS, data=SMALL_DATA)
    before = load_task(path).sha256
    (tmp_path / "s" / "data" / "t.csv").write_text("a,b\n1,1\n")
    assert load_task(path).sha256 != before


def _nb(cells, **meta) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata["cibench"] = {"step_types": ["num"], "schema_version": 1, **meta}
    return nb


@pytest.mark.parametrize("cells, meta, message, cell", [
    ([new_code_cell("1"), new_markdown_cell("q"), new_code_cell("1")], {},
     "code cell before the first instruction", 0),
    ([new_markdown_cell("q"), new_markdown_cell("r"), new_code_cell("1")], {},
     "no reference code cell", 0),
    ([new_markdown_cell("q")], {}, "last instruction has no reference", 0),
    ([new_markdown_cell("q"), new_code_cell("1"), new_markdown_cell("r"), new_code_cell("2")],
     {}, "2 steps in the cells but cibench.step_types declares 1", 2),
    ([new_markdown_cell("q"), new_code_cell("1")], {"step_types": ["bogus"]},
     "unknown step type", None),
    ([new_markdown_cell("q"), new_code_cell("1")], {"step_types": ["check"]},
     "needs a code cell tagged `check`", 0),
    ([new_markdown_cell("q"), new_code_cell("1")], {"schema_version": 9},
     "schema_version 9", None),
])
def test_malformed_notebooks_are_refused(tmp_path: Path, cells, meta, message, cell) -> None:
    path = tmp_path / "bad.ipynb"
    nbformat.write(_nb(cells, **meta), path)
    with pytest.raises(TaskFormatError) as info:
        load_task(path)
    text = str(info.value)
    assert str(path) in text and message in text
    assert "\n" not in text
    if cell is not None:
        assert f"cell {cell}" in text


def test_missing_metadata_and_not_a_notebook(tmp_path: Path) -> None:
    plain = tmp_path / "plain.ipynb"
    nbformat.write(new_notebook(cells=[new_markdown_cell("q"), new_code_cell("1")]), plain)
    with pytest.raises(TaskFormatError, match="no `cibench` section"):
        load_task(plain)
    junk = tmp_path / "junk.ipynb"
    junk.write_text("{not json")
    with pytest.raises(TaskFormatError, match="not a readable notebook"):
        load_task(junk)
    with pytest.raises(TaskFormatError, match="no such"):
        load_task(tmp_path / "absent.ipynb")


def test_note_cells_are_ignored_and_folders_expand(tmp_path: Path) -> None:
    nb = _nb([new_markdown_cell("# Title", metadata={"tags": ["note"]}),
              new_markdown_cell("q"), new_code_cell("1")])
    (tmp_path / "suite").mkdir()
    nbformat.write(nb, tmp_path / "suite" / "a.ipynb")
    assert [p.name for p in find_task_paths([tmp_path / "suite"])] == ["a.ipynb"]
    assert len(load_task(tmp_path / "suite" / "a.ipynb").steps) == 1
