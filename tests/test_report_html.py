"""`cibench report`: the report folder over real runs (real kernels, a real scripted model over
HTTP), its CSV files, figures and HTML, opened in a real headless Chromium."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import os
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

from cibench.agents import AgentOptions
from cibench.cli import main as cli_main
from cibench.report import LEADERBOARD_COLUMNS, SCORES_COLUMNS, build_report, leaderboard_label, write_report
from cibench.report_figures import draw_figures
from cibench.report_sessions import REMOVED_OUTPUT, make_safe
from cibench.runner import RunOptions, run_benchmark
from cibench.task import load_tasks

from conftest import SMALL_DATA, SMALL_STEPS, write_task
from openai_server import ScriptedServer, reply

FAILING_MODEL = "openai/scripted-failing"
# an exception class whose name is markup: its failure category must reach the page escaped
EVIL_NAME = "<img src=x onerror=alert(1)>"
EVIL_TITLE = 'Two steps & a <script>alert("title")</script>'
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.kernel


def _react(code: str) -> dict[str, Any]:
    return reply(f"Thought: I will run code.\nAction: IPythonInterpreter\nAction Input: ```python\n"
                 f"{code}\n```")


def _failing_responder(body: dict[str, Any]) -> dict[str, Any]:
    """A weak model: right, wrong, broken or silent depending on the step, some after retries."""
    messages = body["messages"]
    for i in range(len(messages) - 1, -1, -1):
        text = messages[i].get("content") or ""
        if messages[i]["role"] == "user" and not text.startswith(("Response:", "Output:")):
            break
    attempt = sum(1 for m in messages[i + 1:] if m["role"] == "assistant")
    if "Load" in text:  # a syntax error first, then the right code
        return _react("df = pd.read_csv('data/t.csv'") if attempt == 0 else _react(
            "import pandas as pd\ndf = pd.read_csv('data/t.csv')")
    if "sum of column a" in text:  # always raises an exception with a hostile name
        return _react(f"raise type({EVIL_NAME!r}, (Exception,), {{}})('boom')")
    if "column names" in text:  # answers without code
        return reply("Thought: easy.\nFinal Answer: a,b")
    if "Plot" in text:  # runs, draws nothing, displays hostile HTML and JavaScript
        return _react("from IPython.display import HTML, Javascript, display\n"
                      f"display(HTML({EVIL_NAME!r} + '<b>bold</b><script>alert(2)</script>'))\n"
                      "display(Javascript('alert(3)'))\nprint('no plot today')")
    return _react("df.to_csv('out.csv', index=False)")  # right


def _tasks(root: Path) -> list[Path]:
    small = write_task(root / "suite", "small", SMALL_STEPS, data=SMALL_DATA)
    two = write_task(root / "suite", "two", SMALL_STEPS[:2], data=SMALL_DATA, title=EVIL_TITLE)
    nb = nbformat.read(two, as_version=4)
    nb.metadata["cibench"].update(module="numpy", difficulty="hard")
    nbformat.write(nb, two)
    return [small, two]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Any]:
    """Three real run folders over a two-task suite: the oracle agent in both modes and a
    scripted failing model end to end."""
    root = tmp_path_factory.mktemp("report")
    tasks = _tasks(root)
    oracle_dir = root / "oracle"
    outs = {}
    for mode in ("e2e", "oracle"):
        outs[f"oracle-{mode}"] = root / f"run-oracle-{mode}"
        asyncio.run(run_benchmark(RunOptions(paths=[str(p) for p in tasks], models=["oracle"],
                                             mode=mode, out=outs[f"oracle-{mode}"],
                                             oracle_dir=oracle_dir, jobs=2)))
    with ScriptedServer() as server:
        server.responder = _failing_responder
        outs["failing"] = root / "run-failing"
        result = asyncio.run(run_benchmark(RunOptions(
            paths=[str(p) for p in tasks], models=[FAILING_MODEL], out=outs["failing"],
            oracle_dir=oracle_dir, jobs=2, agent=AgentOptions(api_base=server.api_base))))
    assert result.errors == 0
    return {"root": root, "tasks": tasks, "outs": outs,
            "steps": sum(len(t.steps) for t in load_tasks([str(p) for p in tasks]))}


@pytest.fixture(scope="module")
def report_dir(runs) -> Path:
    out = runs["root"] / "report"
    write_report(list(runs["outs"].values()), out)
    return out


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.ids: set[str] = set()
        self.tags: list[str] = []
        self.active: list[str] = []  # event-handler attributes and scripts: none expected

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in ("script", "iframe", "object", "embed"):
            self.active.append(f"<{tag}>")
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.links.append((tag, value))
            if name == "id" and value:
                self.ids.add(value)
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.active.append(f"<{tag} {name}={value!r}>")


def _parse(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def _check_links(html: str, folder: Path) -> list[tuple[str, str]]:
    """Every href/src is relative and names an existing file (or an id on the page)."""
    page = _parse(html)
    assert page.links
    for tag, link in page.links:
        parts = urlsplit(link)
        assert not parts.scheme and not parts.netloc, f"{tag} points outside the folder: {link}"
        if not parts.path:
            assert parts.fragment in page.ids, f"no element with id {parts.fragment!r}"
            continue
        target = (folder / unquote(parts.path)).resolve()
        assert target.is_file(), f"<{tag}> {link}: no such file"
        assert folder.resolve() in target.parents
    return page.links


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


# --------------------------------------------------------------------------------------------
# files

def test_csv_files_have_one_row_per_step_and_the_cibench_layout(runs, report_dir):
    with open(report_dir / "scores.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(SCORES_COLUMNS)
    series = {(r["model"], r["mode"]) for r in rows}
    assert series == {("oracle", "e2e"), ("oracle", "oracle"), (FAILING_MODEL, "e2e")}
    assert len(rows) == runs["steps"] * len(series)  # model × mode × task × step
    for model, mode in series:
        mine = [r for r in rows if (r["model"], r["mode"]) == (model, mode)]
        assert sorted((r["suite"], r["task"], int(r["step"])) for r in mine) == sorted(
            (t.path.parent.name, t.path.stem, s.index)
            for t in load_tasks([str(p) for p in runs["tasks"]]) for s in t.steps)
    oracle = [r for r in rows if r["model"] == "oracle"]
    assert all(r["passed"] == "1" and r["failure"] == "" and r["tool"] == "1.0" for r in oracle)
    failing = {(r["task"], int(r["step"])): r for r in rows if r["model"] == FAILING_MODEL}
    assert failing[("small", 1)]["attempts"] == "2"
    assert failing[("small", 1)]["ran_at_attempt"] == "2"
    assert failing[("small", 2)]["failure"] == f"runtime error: {EVIL_NAME}"
    assert failing[("small", 2)]["ran_at_attempt"] == "" and failing[("small", 2)]["num"] == "0.0"
    assert failing[("small", 3)]["failure"] == "no code" and failing[("small", 3)]["tool"] == "0.0"
    assert failing[("small", 1)]["text"] == ""  # n/a: an exec step has no text score
    # the CSV agrees with report.json's pooled numbers
    report = build_report(list(runs["outs"].values()))
    row = next(r for r in report["rows"] if r["model"] == FAILING_MODEL)
    mine = [r for r in rows if r["model"] == FAILING_MODEL]
    assert round(100 * sum(float(r["exec"]) for r in mine) / len(mine), 2) == \
        row["metrics"]["exec_rate"]

    with open(report_dir / "leaderboard.csv", newline="") as fh:
        board = list(csv.reader(fh))
    assert board[0] == ["model", "E-Tool", "E-Exe", "E-Num", "E-Text", "E-Vis",
                        "O-Tool", "O-Exe", "O-Num", "O-Text", "O-Vis", "Avg"]
    assert len(board) == 1 + len(report["leaderboard"])
    for entry, line in zip(report["leaderboard"], board[1:], strict=False):
        assert line[0] == leaderboard_label(entry, report["leaderboard"])
        expected = ["" if entry[c] is None else str(round(entry[c], 1))
                    for c in (*LEADERBOARD_COLUMNS, "Avg")]
        assert line[1:] == expected
    failing_line = next(line for line in board if line[0] == FAILING_MODEL)
    assert failing_line[6:11] == [""] * 5  # no oracle-mode run of that model
    assert (report_dir / "report.md").read_text().startswith("# cibench report")


def test_index_is_escaped_self_contained_and_links_to_every_session(runs, report_dir):
    html = (report_dir / "index.html").read_text()
    assert "<script" not in html.lower() and "http://" not in html and "https://" not in html
    assert EVIL_NAME not in html and "<script>alert" not in html
    assert "runtime error: &lt;img src=x onerror=alert(1)&gt;" in html
    assert "Two steps &amp; a &lt;script&gt;alert(&quot;title&quot;)&lt;/script&gt;" in html
    links = _check_links(html, report_dir)
    pages = [link for tag, link in links if link.startswith("sessions/")]
    assert len(pages) == 2 * 3  # every (model, mode, task) session has its page
    assert len(set(pages)) == len(pages)
    imgs = [link for tag, link in links if tag == "img"]
    assert len(imgs) == 5  # the failing model gives every figure data
    for link in imgs:
        width, height = _png_size(report_dir / link)
        assert width >= 500 and height >= 200
    for name in ("scores.csv", "leaderboard.csv", "report.md", "report.json"):
        assert name in [link for _, link in links]
    # each session page is the notebook rendered, without scripts from a CDN
    page = (report_dir / next(p for p in pages if "scripted-failing" in p
                              and p.endswith("/small.html"))).read_text()
    assert "cdnjs" not in page and "require.js" not in page
    assert "Step 1 of" in page and "no plot today" in page and "<b>bold</b>" in page
    # the model's hostile output and exception name are text, never markup
    assert _parse(page).active == []
    assert "runtime error: &lt;img src=x onerror=alert(1)&gt;" in page
    assert _parse(html).active == []
    # numbers with one decimal and a dash for n/a
    assert "100.0" in html and ">–<" in html


def test_figures_are_deterministic_and_skipped_without_data(runs, tmp_path):
    report = build_report([runs["outs"]["oracle-e2e"], runs["outs"]["oracle-oracle"]])
    first = draw_figures(report, tmp_path / "a")
    second = draw_figures(report, tmp_path / "b")
    drawn = [f["name"] for f in first if f.get("file")]
    assert drawn == ["metrics", "modules", "difficulty", "attempts"]
    for name in drawn:
        a, b = (tmp_path / d / f"{name}.png" for d in "ab")
        assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    (failures,) = [f for f in first if f["name"] == "failures"]
    assert "no failures" in failures["skipped"]
    assert [f.get("skipped") for f in second] == [f.get("skipped") for f in first]

    # one model only still draws, and the page says why a figure is missing
    out = tmp_path / "one"
    write_report([runs["outs"]["oracle-e2e"]], out)
    html = (out / "index.html").read_text()
    assert "Not drawn: no failures" in html and not (out / "figures" / "failures.png").exists()
    assert (out / "figures" / "metrics.png").is_file()
    _check_links(html, out)


def test_cli_report_folder_old_md_out_and_bad_run_folders(runs, tmp_path, capsys):
    run = str(runs["outs"]["failing"])
    assert cli_main(["-q", "report", run, "--out", str(tmp_path / "old.md")]) == 0
    captured = capsys.readouterr()
    assert "--out is now a folder" in captured.err and len(captured.err.strip().splitlines()) == 1
    assert captured.out.strip().splitlines()[-1] == str(tmp_path / "old" / "index.html")
    assert (tmp_path / "old" / "report.md").is_file() and not (tmp_path / "old.md").exists()

    missing = tmp_path / "no-such-run"
    assert cli_main(["-q", "report", str(missing), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(missing) in err[0] and "no such run folder" in err[0]

    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli_main(["-q", "report", run, str(empty), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(empty) in err[0] and "no session notebooks" in err[0]
    assert not (tmp_path / "r").exists()  # nothing half-written


def test_a_session_with_an_infrastructure_error_is_listed_not_scored(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs["outs"]["failing"], run)
    broken = run / "openai--scripted-failing" / "suite" / "two.ipynb"
    nb = nbformat.read(broken, as_version=4)
    nb.metadata["cibench"].update(status="error", error="AgentError: <server> down & out")
    nbformat.write(nb, broken)
    out = tmp_path / "report"
    write_report([run], out)
    with open(out / "scores.csv", newline="") as fh:
        tasks = {row["task"] for row in csv.DictReader(fh)}
    assert tasks == {"small"}
    html = (out / "index.html").read_text()
    assert "AgentError: &lt;server&gt; down &amp; out" in html and 'badge err' in html
    assert "sessions with infrastructure errors" in html
    _check_links(html, out)


def test_make_safe_keeps_tables_and_text_and_drops_active_content():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[
        nbformat.v4.new_output("display_data", data={
            "text/html": '<style>td{}</style><table class="dataframe" onclick="x()"><tr>'
                         '<td colspan="2">1</td></tr></table><a href="javascript:x()">a</a>'
                         "<img src=x onerror=alert(1)><script>alert(2)</script>",
            "text/plain": "table"}),
        nbformat.v4.new_output("display_data", data={"image/svg+xml": "<svg onload=x()/>"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": "alert(3)"})])])
    outputs = make_safe(nb).cells[0].outputs
    html = outputs[0].data["text/html"]
    assert html == ('<table class="dataframe"><tbody><tr><td colspan="2">1</td></tr></tbody>'
                    '</table>a')
    assert outputs[1].data == outputs[2].data == {"text/plain": REMOVED_OUTPUT}


# --------------------------------------------------------------------------------------------
# a real browser

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    apt = shutil.which("apt-get")
    if not (apt and hasattr(os, "geteuid") and os.geteuid() == 0):
        pytest.skip("chromium is not installed, and installing it needs root and apt-get "
                    "(apt-get install chromium)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        if done.returncode != 0:
            pytest.skip(f"could not install chromium with {' '.join(cmd)}: "
                        f"{(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    found = shutil.which("chromium")
    if not found:
        pytest.skip("apt-get installed chromium but it is not on PATH")
    return found


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_report_in_headless_chromium(report_dir, tmp_path):
    from PIL import Image

    browser = _chromium()
    copy = tmp_path / "copied elsewhere"  # the folder works wherever it is copied
    shutil.copytree(report_dir, copy)
    url = (copy / "index.html").as_uri()
    profiles = iter(range(10))

    def chromium(*args: str) -> subprocess.CompletedProcess:
        # a fresh profile per call: a second call on a profile still locked by the first waits
        profile = tmp_path / f"profile-{next(profiles)}"
        return subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=120)

    shot = tmp_path / "shot.png"
    done = chromium(f"--screenshot={shot}", "--window-size=1400,2000", url)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == (1400, 2000)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # not blank
    # the page's own colours are there: the dark header band and the table heat cells
    assert any(rgb == (29, 35, 48) for _, rgb in colours)

    dom = chromium("--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Leaderboard" in dom.stdout and "oracle" in dom.stdout
    links = _check_links(dom.stdout, copy)
    for tag, link in links:
        if tag == "img":
            _png_size(copy / unquote(link))
    # the failing model's session page opens too (a script in it would block --dump-dom)
    page = next(link for _, link in links
                if "scripted-failing" in link and link.endswith("/small.html"))
    one = chromium("--dump-dom", (copy / unquote(page)).as_uri())
    assert one.returncode == 0 and "Step 1 of" in one.stdout
    assert _parse(one.stdout).active == []
