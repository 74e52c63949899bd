"""What a reader sees in a session notebook with a failed step: labelled attempts, a short
traceback (the full one kept), wrapped lines, one result line, and, in a real browser, the
instruction, the attempts and the result within one screen."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from cibench.notebook import read_session

from conftest import SMALL_DATA, SMALL_STEPS, write_task
from test_llm_agent import by_step, options, react, run, session_file

SCREEN = 900  # px: a laptop screen's height below the browser's toolbars


@pytest.fixture
async def failed_session(openai_server, tmp_path: Path) -> Path:
    task = write_task(tmp_path / "suite", "two", SMALL_STEPS[:2], data=SMALL_DATA)
    openai_server.responder = by_step({
        "Load": [react("import pandas as pd\ndf = pd.read_csv('data/t.csv')\n"
                       "print('x' * 300)")],
        "sum of column a": [react("df['no_such_column'].sum()"),  # KeyError deep in pandas
                            react("df['b'].sum()"),  # runs, wrong answer
                            react("df['b'].sum()")],
    })
    await run([task], tmp_path, options(openai_server, protocol="react"))
    return session_file(tmp_path, task)


@pytest.mark.kernel
async def test_failed_step_reads_top_to_bottom(failed_session: Path):
    nb = nbformat.read(failed_session, as_version=4)
    texts = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert any(t.startswith("**Attempt 1 of 3** · failed: KeyError") for t in texts)
    assert any(t.startswith("**Attempt 2 of 3** · ran") for t in texts)
    assert not any("```python" in t for t in texts if t.startswith("**Attempt"))  # code once
    result = next(t for t in texts if t.startswith("**Result: FAIL**"))
    assert "`num` step" in result and "wrong answer" in result and "expected 6" in result
    failed = next(c for c in nb.cells if "cibench-failed-attempt" in c.metadata.get("tags", []))
    shown = failed.outputs[0]["traceback"]
    assert shown[0].startswith("Cell In[") and shown[-1].startswith("KeyError")
    assert "library frame" in shown[-2] and len("".join(shown)) < 600
    full = failed.metadata["cibench"]["outputs"][0]["traceback"]
    assert len(full) > len(shown) and any("pandas" in frame for frame in full)
    wide = next(c for c in nb.cells if c.cell_type == "code" and "'x' * 300" in c.source)
    assert max(len(line) for line in wide.outputs[0]["text"].splitlines()) <= 122
    # the notebook still holds the exact record
    record = read_session(failed_session)
    assert record.steps[1].attempts[0].execution.error["traceback"] == full
    assert "x" * 300 in record.steps[0].attempts[0].execution.stdout()
    header = nb.cells[0].source
    assert "| score (%) |" in header and "| steps | 2 | 2 | 1 | 0 | 0 | 0 | 0 |" in header
    refs = [c for c in nb.cells if "cibench-reference" in c.metadata.get("tags", [])]
    assert all(c.execution_count for c in refs)


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if shutil.which("apt-get") and Path("/etc/debian_version").exists() and \
            subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip() == "0":
        subprocess.run("apt-get update -qq && apt-get install -y -qq chromium", shell=True,
                       capture_output=True, timeout=600)
        found = shutil.which("chromium")
        if found:
            return found
    pytest.skip("no chromium, and it can't be installed here (needs root and Debian's apt-get)")


MEASURE = """<script>
window.addEventListener('load', () => {
  const find = (pred) => [...document.querySelectorAll('h2, p, strong')].find(pred);
  const step = find(e => e.tagName === 'H2' && e.textContent.startsWith('Step 2 of'));
  const top = step.getBoundingClientRect().top;
  const y = (e) => e ? Math.round(e.getBoundingClientRect().bottom - top) : -1;
  const out = {
    attempt1: y(find(e => e.textContent.startsWith('Attempt 1 of 3') && e.getBoundingClientRect().top > top)),
    attempt2: y(find(e => e.textContent.startsWith('Attempt 2 of 3') && e.getBoundingClientRect().top > top)),
    result: y(find(e => e.textContent.startsWith('Result: FAIL'))),
  };
  const pre = document.createElement('pre'); pre.id = 'measured';
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
});
</script></body>"""


@pytest.mark.slow
@pytest.mark.kernel
async def test_failed_step_fits_one_screen_in_a_browser(failed_session: Path, tmp_path: Path):
    chromium = _chromium()
    from nbconvert import HTMLExporter

    html, _ = HTMLExporter().from_filename(str(failed_session))
    page = tmp_path / "session.html"
    page.write_text(html.replace("</body>", MEASURE, 1))
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1000"]
    dom = subprocess.run([*flags, "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    measured = json.loads(dom.split('<pre id="measured">', 1)[1].split("</pre>", 1)[0])
    assert 0 < measured["attempt1"] < measured["attempt2"] < measured["result"] < SCREEN, measured
    shot = tmp_path / "session.png"
    subprocess.run([*flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one


@pytest.mark.kernel
async def test_model_text_cannot_put_html_into_the_page(openai_server, tmp_path: Path):
    """nbconvert renders raw HTML in markdown cells: model prose and exception names must reach
    the HTML export as text."""
    from nbconvert import HTMLExporter

    task = write_task(tmp_path / "suite", "one", SMALL_STEPS[:1], data=SMALL_DATA)
    hostile = ("E = type('<img src=x onerror=alert(1)>', (Exception,), {})\nraise E()")
    openai_server.responder = by_step({"Load": [
        react(hostile, thought="<img src=y onerror=alert(2)> <script>alert(3)</script>")]})
    await run([task], tmp_path, options(openai_server, protocol="react"))
    html, _ = HTMLExporter().from_filename(str(session_file(tmp_path, task)))
    assert "<img src=x" not in html and "<img src=y" not in html
    assert "<script>alert(3)" not in html
    assert "onerror=alert(2)" in html  # shown as text, not dropped
