"""The session notebook: valid nbformat, renders to HTML, reads back to the same record, and
matches a normalized golden copy."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from cibench.notebook import read_session, render_session
from cibench.runner import RunOptions, run_benchmark

from conftest import SMALL_DATA, SMALL_STEPS, write_task
from golden_notebooks import GOLDEN, check_golden

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import asyncio
    tmp = tmp_path_factory.mktemp("nb")
    # a fixed location so that the task path in the notebook is the same every time
    task = write_task(tmp / "suite", "small", SMALL_STEPS, data=SMALL_DATA)
    out = tmp / "run"
    asyncio.run(run_benchmark(RunOptions(paths=[str(task)], models=["oracle"], mode="e2e",
                                         out=out, oracle_dir=tmp / "oracle", jobs=1,
                                         run_id="golden")))
    return out / "oracle" / "suite" / "small.ipynb"


def test_session_notebook_is_valid_and_complete(recorded: Path) -> None:
    nb = nbformat.read(recorded, as_version=4)
    nbformat.validate(nb)
    tags = [t for c in nb.cells for t in c.metadata.get("tags", [])]
    assert tags.count("cibench-turn") == 5
    assert tags.count("cibench-reference") == 5 and tags.count("cibench-score") == 5
    assert tags.count("cibench-check") == 1
    head = nb.metadata["cibench"]
    assert head["schema_version"] == 2 and head["run"]["model"] == "oracle"
    assert head["scores"]["num_acc"] == 100.0
    # the vis step's attempt carries its real figure
    vis = [c for c in nb.cells if "cibench-attempt" in c.metadata.get("tags", [])
           and c.metadata["cibench"]["step"] == 4]
    assert any("image/png" in o.get("data", {}) for o in vis[0].outputs)
    # the reference is labelled, collapsed and never mistaken for a model cell
    ref = [i for i, c in enumerate(nb.cells) if "cibench-reference" in c.metadata.get("tags", [])]
    assert all(nb.cells[i - 1].source.startswith("#### Reference") for i in ref)
    assert all(nb.cells[i].metadata["jupyter"]["source_hidden"] for i in ref)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "PASS" in text and "✅" not in text and "❌" not in text


def test_read_back_gives_the_same_record(recorded: Path) -> None:
    record = read_session(recorded)
    again = render_session(record, None)
    original = nbformat.read(recorded, as_version=4)
    # reference outputs of e2e come from ground truth (not part of the record): compare the rest
    strip = lambda nb: [(c.cell_type, c.source, c.metadata.get("cibench"),  # noqa: E731
                         c.get("outputs") if "cibench-reference" not in c.metadata.get("tags", [])
                         else None) for c in nb.cells]
    assert strip(again) == strip(original)
    assert again.metadata["cibench"] == original.metadata["cibench"]


def test_renders_to_html(recorded: Path) -> None:
    from nbconvert import HTMLExporter
    html, _ = HTMLExporter().from_filename(str(recorded))
    assert "Step 4 of 5" in html and "Reference solution" in html and "data:image/png" in html


def test_matches_golden(recorded: Path) -> None:
    check_golden(recorded, GOLDEN / "small-oracle-e2e.ipynb.json")
