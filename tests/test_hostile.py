"""Hostile model code (issue 10): it cannot fake a pass, crash the run, flood the notebook,
outlive its session or read the key. Every attack runs through a real kernel, driven by a
scripted agent (or the real local OpenAI-compatible server for API cases), and the test asserts
the outcome: refused, recorded as a failure of that attempt, or contained."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cibench.agents import AgentOptions
from cibench.agents.base import register_agent
from cibench.kernel import DROPPED_MIME, KernelSession, startup_code
from cibench.notebook import read_session
from cibench.runner import RunOptions, run_benchmark
from cibench.sandbox import SandboxOptions
from cibench.session import SessionSettings
from cibench.tamper import scan
from cibench.task import load_tasks

from conftest import REPO, SHARED, write_task
from openai_server import reply
from scripted import ScriptedAgent

pytestmark = pytest.mark.kernel

CLI = [sys.executable, "-m", "cibench"]
IS_ROOT = os.geteuid() == 0

# -- a scripted agent answering with chosen code ---------------------------------------------

SCRIPT: dict[int, list[str | None]] = {}


register_agent("hostile")(lambda name, options: ScriptedAgent(SCRIPT, name=name, thought=""))

CHECK_STEP = {"type": "check", "instruction": "Set x to 1.", "code": "x = 1",
              "checks": ["assert x == 1"]}
NUM_STEP = {"type": "num", "instruction": "Print 6 times 7.", "code": "print(6 * 7)"}


async def run_hostile(tmp_path: Path, steps: list[dict[str, Any]], script: dict[int, list[str]],
                      *, settings: SessionSettings | None = None, out: str = "run",
                      agent: AgentOptions | None = None, model: str = "hostile", **kw: Any):
    SCRIPT.clear()
    SCRIPT.update(script)
    suite = tmp_path / "suite"
    if not suite.is_dir():
        write_task(suite, "attack", steps)
    return await run_benchmark(RunOptions(
        paths=[str(suite)], models=[model], out=tmp_path / out, oracle_dir=tmp_path / "oracle",
        jobs=1, timeout=20, settings=settings or SessionSettings(),
        agent=agent or AgentOptions(), **kw))


def notebook(tmp_path: Path, out: str = "run") -> Path:
    return next((tmp_path / out).rglob("attack.ipynb"))


def attempts(tmp_path: Path, out: str = "run"):
    record = read_session(notebook(tmp_path, out))
    return record, [a for s in record.steps for a in s.attempts]


# -- 1. faking success by silencing tracebacks -------------------------------------------------

SILENCE = ("ip = get_ipython()\nip._showtraceback = lambda *a, **k: None\n"
           "ip.showtraceback = lambda *a, **k: None\n")


async def test_silenced_traceback_is_refused_and_scored_as_tampering(tmp_path):
    result = await run_hostile(tmp_path, [CHECK_STEP, NUM_STEP],
                               {1: [SILENCE + "x = 1\nraise RuntimeError()"]})
    assert result.errors == 0
    row = result.summary["results"][0]
    assert row["failures"] == {"tampering": 1}, row
    assert row["metrics"]["check_rate"] == 0.0 and row["metrics"]["num_acc"] == 100.0
    record, tries = attempts(tmp_path)
    first = record.steps[0]
    assert len(first.attempts) == 1 and first.attempts[0].tampering
    assert first.attempts[0].execution.error_name == "TamperingSuspected"
    assert not first.score.passed and first.score.failure == "tampering"
    text = notebook(tmp_path).read_text()
    assert "Result: FAIL** · `check` step" in text and "tampering suspected" in text


async def test_execute_reply_decides_success_when_the_scan_is_bypassed(tmp_path):
    """Code the scan cannot see (exec of an encoded string) still cannot fake success: the
    shell channel's execute_reply says error, for model cells and check cells alike."""
    import base64
    hidden = base64.b64encode(SILENCE.encode()).decode()
    code = f"import base64\nexec(base64.b64decode({hidden!r}).decode())\nx = 1\nraise RuntimeError()"
    assert scan(code) == []
    async with KernelSession(tmp_path, timeout=20, startup_code=startup_code()) as k:
        silent = await k.execute(code)
        assert not any(o["output_type"] == "error" for o in silent.outputs[:-1])  # nothing shown
        assert silent.status == "error" and silent.error_name == "RuntimeError", silent
        assert "published no traceback" in "\n".join(silent.error["traceback"])
        check = await k.execute("assert x == 2")  # the shell is still patched
        assert check.status == "error" and check.error_name == "AssertionError"
        assert (await k.execute("print(x)")).ok


def test_scan_has_no_false_positive_on_bundled_and_cibench_code():
    blocks = []
    for task in load_tasks([str(REPO / "notebooks")]):
        blocks += [*task.setup, *(s.reference for s in task.steps),
                   *(c for s in task.steps for c in s.checks)]
    bundled = len(blocks)
    source = SHARED / "datasets" / "cibench"
    if source.is_dir():
        for path in sorted(source.rglob("*.md")):
            blocks += re.findall(r"```python\n(.*?)```", path.read_text(errors="replace"), re.S)
    flagged = [(code[:80], scan(code)) for code in blocks if scan(code)]
    assert bundled > 10 and not flagged, flagged
    if not source.is_dir():
        pytest.skip(f"{source} is absent: only the {bundled} bundled code cells were scanned")
    assert len(blocks) > 1000


@pytest.mark.parametrize("code", [
    SILENCE,
    "import sys\nsys.excepthook = lambda *a: None",
    "import builtins\nbuiltins.print = lambda *a, **k: None",
    "get_ipython().events.register('post_run_cell', lambda r: None)",
    "get_ipython().input_transformers_post.append(lambda lines: [])",
    "get_ipython().ast_transformers.append(object())",
    "get_ipython().kernel.session.send(None, 'execute_reply', {'status': 'ok'})",
    "setattr(get_ipython(), 'showtraceback', print)",
    "from unittest import mock\nmock.patch.object(get_ipython(), '_showtraceback').start()",
    "from IPython.core.interactiveshell import InteractiveShell\n"
    "InteractiveShell._showtraceback = print",
    "get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)",
    "get_ipython().display_pub.publish = print",
])
def test_scan_flags_tampering(code):
    assert scan(code)


@pytest.mark.parametrize("code", [
    "%matplotlib inline\nimport pandas as pd\ndisplay(pd.DataFrame({'a': [1]}))",
    "get_ipython().run_line_magic('config', \"InlineBackend.figure_format = 'png'\")",
    "ip = get_ipython()\nip.user_ns['y'] = 2\nprint(ip.user_ns['y'])",
    "import sys\nsys.path.append('.')\nsys.stdout.flush()",
    "class M:\n    def __init__(self):\n        self.session = None\n        self.events = []",
    "!ls data\nx = 1",
])
def test_scan_passes_normal_use(code):
    assert scan(code) == []


# -- 2. one reply must not crash the run ----------------------------------------------------------

MALFORMED = f"""\
from IPython.display import publish_display_data
publish_display_data({{{DROPPED_MIME!r}: 'not json {{'}})
publish_display_data({{{DROPPED_MIME!r}: {{'chars': 'many', 'images': [1]}}}})
publish_display_data({{{DROPPED_MIME!r}: [1, 2]}})
publish_display_data({{'text/plain': 5, 'text/html': {{'a': 1}}}})
publish_display_data({{'image/png': 'not base64 png!'}})
publish_display_data({{'text/markdown': ['a', 'b']}}, metadata={{'big': 'y' * 100_000}})
print(6 * 7)
"""


async def test_malformed_display_data_is_recorded_and_the_run_goes_on(tmp_path):
    result = await run_hostile(tmp_path, [NUM_STEP, CHECK_STEP], {1: [MALFORMED]})
    assert result.errors == 0
    row = result.summary["results"][0]
    assert row["steps"] == 2 and row["metrics"]["num_acc"] == 100.0, row
    _, tries = attempts(tmp_path)
    execution = tries[0].execution
    streams = "".join(o.get("text", "") for o in execution.outputs if o["output_type"] == "stream")
    assert "[cibench: 5 malformed kernel messages ignored" in streams, streams
    assert "malformed" in execution.note
    shown = [o for o in execution.outputs if o["output_type"] == "display_data"]
    assert shown == [{"output_type": "display_data", "data": {"text/markdown": "ab"},
                      "metadata": {}}]
    # resuming (the same reply again, as from the response cache) works too
    again = await run_hostile(tmp_path, [NUM_STEP, CHECK_STEP], {1: [MALFORMED]}, out="run2")
    assert again.errors == 0


async def test_api_reply_without_choices_is_retried_then_recorded(tmp_path, openai_server,
                                                                   fast_retries):
    empty = {"raw": {"id": "x", "object": "chat.completion", "created": 1, "model": "scripted",
                     "choices": []}}
    react = "Thought: go\nAction: IPythonInterpreter\nAction Input: ```python\nprint(6 * 7)\n```"
    openai_server.script = [empty, reply(react)]  # one empty reply: retried, then fine
    options = AgentOptions(api_base=openai_server.api_base, retries=2)
    result = await run_hostile(tmp_path, [NUM_STEP], {}, model="openai/scripted", agent=options)
    assert result.errors == 0 and result.summary["results"][0]["metrics"]["num_acc"] == 100.0
    openai_server.script = [empty] * 10  # never a usable reply: the session is an agent error
    result = await run_hostile(tmp_path, [NUM_STEP], {}, model="openai/scripted", agent=options,
                               out="run2")
    assert result.errors == 1
    error = result.summary["results"][0]["errors"][0]["error"]
    assert "no choices" in error and "3 attempts" in error, error


# -- 3. caps on every MIME type, the number of outputs and the reply -------------------------------

FLOOD = """\
from IPython.display import publish_display_data
big = 'x' * 3_000_000
publish_display_data({'text/markdown': big})
publish_display_data({'application/json': {'k': big}})
publish_display_data({'image/svg+xml': '<svg>' + big + '</svg>'})
for i in range(1000):
    publish_display_data({'text/html': '<b>%d</b>' % i})
print(6 * 7)
"""


async def test_every_mime_type_and_the_output_count_are_capped(tmp_path):
    result = await run_hostile(tmp_path, [NUM_STEP], {1: [FLOOD]})
    assert result.errors == 0
    assert result.summary["results"][0]["metrics"]["num_acc"] == 100.0
    size = notebook(tmp_path).stat().st_size
    assert size < 1_500_000, size  # 18 MB before the caps
    _, tries = attempts(tmp_path)
    streams = "".join(o.get("text", "") for o in tries[0].execution.outputs
                      if o["output_type"] == "stream")
    assert "[cibench: output cut; dropped" in streams and "other outputs" in streams


async def test_a_huge_reply_is_cut(tmp_path):
    huge = "print(6 * 7)\n" + "#" * 10_000_000
    result = await run_hostile(tmp_path, [NUM_STEP], {1: [huge, "print(6 * 7)"]})
    assert result.errors == 0
    size = notebook(tmp_path).stat().st_size
    assert size < 1_000_000, size  # 63 MB before
    _, tries = attempts(tmp_path)
    assert tries[0].execution.error_name == "CodeTooLong"
    assert "[cibench: reply cut" in tries[0].reply.text
    assert tries[1].execution.ok  # the next attempt runs as usual


# -- 4. the key never reaches the kernel ----------------------------------------------------------

async def test_api_key_in_an_odd_variable_never_reaches_the_kernel(tmp_path, openai_server,
                                                                    monkeypatch):
    key = "sk-odd-0123456789abcdef"
    monkeypatch.setenv("MY_ODD_NAME", key)
    monkeypatch.setenv("INNOCENT_COPY", f"prefix-{key}")
    dump = ("import os\nfor k, v in sorted(os.environ.items()):\n    print(k, v)\n"
            "print(open('/proc/self/environ', 'rb').read())\nprint(6 * 7)")
    react = f"Thought: go\nAction: IPythonInterpreter\nAction Input: ```python\n{dump}\n```"
    openai_server.responder = lambda body: reply(react)
    options = AgentOptions(api_base=openai_server.api_base, api_key_env="MY_ODD_NAME")
    result = await run_hostile(tmp_path, [NUM_STEP], {}, model="openai/scripted",
                               agent=options)
    assert result.errors == 0
    assert openai_server.requests[0]["_headers"]["authorization"] == f"Bearer {key}"
    _, tries = attempts(tmp_path)
    printed = tries[0].execution.stdout()
    assert "PATH" in printed and "MY_ODD_NAME" not in printed and "INNOCENT_COPY" not in printed
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file():
            assert key not in path.read_text(errors="replace"), path


# -- 5. flags and names -------------------------------------------------------------------------

@pytest.mark.parametrize("flag", [
    ["--timeout", "nan"], ["--temperature", "nan"], ["--interrupt-grace", "nan"],
    ["--price", "nan,1"], ["--retries", "-3"], ["--timeout", "inf"], ["--attempts", "0"],
    ["--run-id", "../../x"], ["--run-id", "/tmp/abs"], ["--kernel-user", "nosuchuser"],
    ["--memory-limit", "10"], ["--max-tokens", "nan"], ["--seed", "-1"], ["--jobs", "1e3"],
])
def test_bad_numeric_and_path_flags_are_refused_in_one_line(tmp_path, flag):
    suite = write_task(tmp_path / "suite", "t", [NUM_STEP])
    done = subprocess.run([*CLI, "run", str(suite), "--model", "oracle", *flag],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and flag[0] in lines[0], done.stderr
    assert not (tmp_path / "sessions").exists() and not (tmp_path / "x").exists()


async def test_escape_sequences_in_an_exception_name_stay_out_of_reports(tmp_path):
    evil = "raise type('\\x1b[2J\\x1b[31mEvil\\x07Name', (Exception,), {})('boom')"
    result = await run_hostile(tmp_path, [NUM_STEP], {1: [evil]})
    failures = result.summary["results"][0]["failures"]
    assert failures == {"runtime error: EvilName": 1}, failures
    from cibench.report import write_report
    write_report([tmp_path / "run"], tmp_path / "report")
    for path in (tmp_path / "report" / "report.md", tmp_path / "report" / "index.html",
                 tmp_path / "report" / "scores.csv", notebook(tmp_path),
                 tmp_path / "run" / "summary.json"):
        text = path.read_text()
        assert "\x1b" not in text and "\\u001b" not in text and "\\u0007" not in text, path


# -- 6. processes do not outlive their session ----------------------------------------------------

PAIR = """\
import os, sys, time
T0, TOKEN = time.time(), sys.argv[1]  # every process ends by itself after 90 s (test safety)
if int(sys.argv[2]):
    os.setsid()  # out of the kernel's process group: only a uid-wide sweep can find us

def pair():
    # two processes watching each other: whichever dies, the other forks a new partner
    while time.time() - T0 < 90:
        pid = os.fork()
        if pid == 0:
            parent = os.getppid()
            while os.getppid() == parent and time.time() - T0 < 90:
                time.sleep(0.002)
            continue  # the parent died: fork a new partner
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    os._exit(0)

def decoy(own_session):
    if os.fork() == 0:
        if own_session:
            os.setsid()
        if os.fork() == 0:  # double fork: a daemon reparented to init
            import signal
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            while time.time() - T0 < 90:
                time.sleep(0.05)
        os._exit(0)

def hopper():
    # forks a child and exits, over and over: its pid is never the one a snapshot of /proc saw
    while time.time() - T0 < 90:
        if os.fork():
            os._exit(0)
        time.sleep(0.0005)
    os._exit(0)

if os.fork() == 0:
    hopper()
for _ in range(int(sys.argv[2])):
    decoy(own_session=True)
for _ in range(4):
    decoy(own_session=False)
if os.fork() == 0:
    pair()
os._exit(0)
"""


def _with_token(token: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if token.encode() in cmdline and state not in ("Z", "X"):
                found.append(int(entry.name))
    return found


def _spawn_code(token: str, setsid_decoys: int) -> str:
    # an interpreter the session uid can run (this venv's may point into a 0700 folder)
    return (f"import os, shutil, subprocess, sys, time\n"
            f"exe = shutil.which('python3', path='/usr/bin:/bin') or sys.executable\n"
            f"subprocess.Popen([exe, '-c', {PAIR!r}, {token!r}, '{setsid_decoys}'])\n"
            f"time.sleep(1.5)\n"
            f"def mine(p):\n    try:\n        return {token!r}.encode() in open(f'/proc/{{p}}/cmdline', 'rb').read()\n"
            f"    except OSError:\n        return False\n"
            f"print('spawned', sum(mine(p) for p in os.listdir('/proc') if p.isdigit()), file=sys.stderr)\n"
            f"print(6 * 7)")


@pytest.mark.parametrize("user", [
    pytest.param("auto", marks=pytest.mark.skipif(not IS_ROOT, reason="a uid of its own needs root")),
    "off"])
async def test_re_forking_processes_do_not_outlive_the_session(tmp_path, user):
    token = f"cibench-hostile-{os.getpid()}-{user}-{time.time_ns()}"
    # under --kernel-user off only the kernel's process group can be cleaned: no setsid decoys
    code = _spawn_code(token, 3 if user == "auto" else 0)
    settings = SessionSettings(sandbox=SandboxOptions(user=user))
    try:
        result = await run_hostile(tmp_path, [NUM_STEP, CHECK_STEP], {1: [code]},
                                   settings=settings)
        assert result.errors == 0
        assert result.summary["results"][0]["metrics"]["num_acc"] == 100.0
        if user == "auto":
            from cibench.sandbox import other_users_can_run_kernel
            if not other_users_can_run_kernel():
                pytest.skip("another uid cannot run this Python: kernels ran as this user")
        _, tries = attempts(tmp_path)
        spawned = re.search(r"spawned (\d+)", "".join(o.get("text", "") for o in
                                                     tries[0].execution.outputs))
        assert spawned and int(spawned.group(1)) >= 6, tries[0].execution.outputs
        assert _with_token(token) == []
    finally:
        for pid in _with_token(token):  # never leave a fork pair behind on a shared machine
            try:
                os.kill(pid, 9)
            except OSError:
                pass


# -- 7. ground truth integrity --------------------------------------------------------------------

def test_score_refuses_ground_truth_changed_since_the_run(tmp_path):
    suite = write_task(tmp_path / "suite", "t", [NUM_STEP, CHECK_STEP])
    done = subprocess.run([*CLI, "run", str(suite), "--model", "oracle", "--out", "run"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "run" / "run.json").read_text())
    truth = next((tmp_path / "oracle").rglob("t.json"))
    import hashlib
    assert list(manifest["ground_truth"].values()) == [hashlib.sha256(truth.read_bytes())
                                                       .hexdigest()]
    assert subprocess.run([*CLI, "score", "run"], capture_output=True, cwd=tmp_path,
                          timeout=120).returncode == 0
    data = json.loads(truth.read_text())
    data["steps"][0]["execution"]["outputs"][0]["text"] = "43\n"  # a "better" expected answer
    truth.write_text(json.dumps(data))
    summary = (tmp_path / "run" / "summary.json").read_bytes()
    scored = subprocess.run([*CLI, "score", "run"], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert scored.returncode == 2, scored
    lines = scored.stderr.strip().splitlines()
    assert len(lines) == 1 and str(truth.relative_to(tmp_path)) in lines[0] \
        and "changed since" in lines[0], scored.stderr
    assert (tmp_path / "run" / "summary.json").read_bytes() == summary


def test_score_refuses_a_truncated_session_notebook(tmp_path):
    suite = write_task(tmp_path / "suite", "t", [NUM_STEP])
    write_task(tmp_path / "suite", "u", [NUM_STEP])
    done = subprocess.run([*CLI, "run", str(tmp_path / "suite"), "--model", "oracle", "--out",
                           "run"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    session = next((tmp_path / "run").rglob("t.ipynb"))
    session.write_bytes(session.read_bytes()[:2000])
    summary = (tmp_path / "run" / "summary.json").read_bytes()
    scored = subprocess.run([*CLI, "score", "run"], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert scored.returncode == 2 and len(scored.stderr.strip().splitlines()) == 1, scored
    assert "t.ipynb" in scored.stderr and "unreadable" in scored.stderr
    assert (tmp_path / "run" / "summary.json").read_bytes() == summary
    assert suite.is_file()


# -- memory of the whole process tree --------------------------------------------------------------

HOGS = """\
import os, shutil, subprocess, sys, time
exe = shutil.which('python3', path='/usr/bin:/bin') or sys.executable
hog = "import time\\nx = b'x' * (600 << 20)\\ntime.sleep(60)"
procs = [subprocess.Popen([exe, '-c', hog]) for _ in range(5)]  # 3 GB together, 600 MB each
time.sleep(30)
print('survived')
"""


@pytest.mark.parametrize("user", [
    pytest.param("auto", marks=pytest.mark.skipif(not IS_ROOT, reason="a uid of its own needs root")),
    "off"])
async def test_memory_limit_covers_the_whole_process_tree(tmp_path, user):
    from cibench.kernel import KernelLimits
    settings = SessionSettings(limits=KernelLimits(memory_mb=2048),
                               sandbox=SandboxOptions(user=user))
    started = time.monotonic()
    result = await run_hostile(tmp_path, [NUM_STEP], {1: [HOGS, "print(6 * 7)"]},
                               settings=settings)
    assert time.monotonic() - started < 60
    assert result.errors == 0
    _, tries = attempts(tmp_path)
    first = tries[0].execution
    assert first.status == "died" and "over the 2048 MiB memory limit" in first.note, first
    assert "survived" not in first.stdout()
    assert tries[1].execution.ok and result.summary["results"][0]["metrics"]["num_acc"] == 100.0


# -- 1. --kernel-user auto never degrades silently --------------------------------------------

@pytest.mark.skipif(not IS_ROOT, reason="the per-session uid exists only when cibench runs as root")
def test_auto_user_refuses_a_kernel_python_other_uids_cannot_run(tmp_path):
    """A kernel Python only root can run (a venv in a 0700 folder on most systems) used to make
    `auto` fall back to running model code as root. It must refuse, say how to fix it, and write
    nothing. The Python here is a wrapper that refuses every uid but root, so the test does not
    depend on how this machine's file system treats 0700 folders."""
    python = tmp_path / "root-only-python"
    python.write_text(f'#!/bin/sh\n[ "$(id -u)" = 0 ] || exit 1\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    write_task(tmp_path / "suite", "one", [NUM_STEP])
    env = {**os.environ, "CIBENCH_KERNEL_PYTHON": str(python)}
    base = [*CLI, "-q", "run", str(tmp_path / "suite"), "--model", "oracle", "--out",
            str(tmp_path / "run"), "--oracle-dir", str(tmp_path / "o"), "--no-report"]
    done = subprocess.run(base, capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "--kernel-user auto: a per-session uid cannot run the kernel's Python" in line
    assert "cibench kernel install" in line and "--kernel-user off" in line
    assert not (tmp_path / "run").exists()
    knowingly = subprocess.run([*base, "--kernel-user", "off"], capture_output=True, text=True,
                               timeout=180, env=env)
    assert knowingly.returncode == 0, knowingly.stderr[-1500:]


# -- 2. a file check cannot be rigged through the kernel ----------------------------------------

FILE_STEP = {"type": "check", "instruction": "Save a table with a revenue column to revenue.csv.",
             "code": "import pandas as pd\npd.DataFrame({'revenue': [1.0, 2.0]}).to_csv('revenue.csv', "
                     "index=False)",
             "checks": ["import pandas as _pd\n_out = _pd.read_csv('revenue.csv')\n"
                        "assert list(_out.columns) == ['revenue'] and len(_out) == 2"]}
# patches pandas inside the kernel through exec (invisible to the static scan) and writes nothing
RIGGED = ("exec(\"import pandas as p\\np.read_csv = lambda *a, **k: "
          "p.DataFrame({'revenue': [1.0, 2.0]})\")")


def test_which_checks_read_kernel_state():
    from cibench.execute import reads_kernel_state

    assert reads_kernel_state("assert x == 1") and reads_kernel_state("assert df.shape[0] == 3")
    assert reads_kernel_state("%ls")  # IPython syntax: only the kernel can run it
    assert reads_kernel_state("assert globals().get('final_answer') == 6")
    assert reads_kernel_state("import __main__\nassert __main__.x")
    assert not reads_kernel_state(FILE_STEP["checks"][0])
    assert not reads_kernel_state("from pathlib import Path\nassert Path('a.png').stat().st_size")
    assert not reads_kernel_state("def _f(a):\n    return [i for i in range(a)]\nassert _f(2)")


async def test_a_file_check_runs_where_the_model_cannot_rig_it(tmp_path):
    result = await run_hostile(tmp_path, [FILE_STEP], {1: [RIGGED]})
    row = result.summary["results"][0]
    assert row["metrics"]["check_rate"] == 0.0, row
    record, _ = attempts(tmp_path)
    check = record.steps[0].check
    assert check.status == "error" and check.error_name == "FileNotFoundError"
    assert "fresh process" in check.note
    # the honest answer still passes, and ground truth was built the same way
    honest = await run_hostile(tmp_path, [FILE_STEP], {}, out="honest")
    assert honest.summary["results"][0]["metrics"]["check_rate"] == 100.0


@pytest.mark.skipif(not IS_ROOT, reason="the per-session uid exists only when cibench runs as root")
async def test_a_session_uid_can_resolve_its_own_folder_by_absolute_path(tmp_path):
    """Regression: the session folder above work/ was root's 0700, so `os.listdir(os.getcwd())`
    and libraries that resolve absolute paths (skimage.io.imsave, matplotlib's config dir)
    failed under the sandbox while the same reference validated without it."""
    step = {"type": "num", "instruction": "Print how many entries the working folder has.",
            "code": "import os\nopen('x.txt', 'w').close()\nprint(len(os.listdir(os.getcwd())))"}
    result = await run_hostile(tmp_path, [step], {},
                               settings=SessionSettings(sandbox=SandboxOptions(user="auto")))
    row = result.summary["results"][0]
    assert row["metrics"]["exec_rate"] == 100.0 and row["metrics"]["num_acc"] == 100.0, row
