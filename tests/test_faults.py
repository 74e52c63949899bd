"""Fault injection with real kernels: death, hangs, floods, memory, the sandbox, a killed run,
bad input. See docs/sandbox.md for what is contained and how."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from cibench.agents.base import register_agent
from cibench.errors import SandboxError
from cibench.kernel import KernelLimits, KernelSession, OutputCaps, startup_code
from cibench.runner import RunOptions, run_benchmark
from cibench.sandbox import UID_BASE, Sandbox, SandboxOptions
from cibench.session import SessionSettings

from scripted import ScriptedAgent

pytestmark = pytest.mark.kernel


def _streams(execution) -> str:
    """Every stream, stderr included (where cibench writes its "output cut" marker)."""
    return "".join(o.get("text", "") for o in execution.outputs if o["output_type"] == "stream")
CLI = [sys.executable, "-m", "cibench"]
IS_ROOT = os.geteuid() == 0


def write_task(folder: Path, name: str, steps: list[tuple[str, str, str]],
               data: dict[str, str] | None = None) -> Path:
    """A task notebook: steps are (type, instruction, reference code)."""
    folder.mkdir(parents=True, exist_ok=True)
    nb = new_notebook(metadata={"cibench": {"title": name, "module": "pandas",
                                            "step_types": [t for t, _, _ in steps],
                                            "schema_version": 1}})
    for _, instruction, code in steps:
        nb.cells += [new_markdown_cell(instruction), new_code_cell(code)]
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    for rel, text in (data or {}).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    return path


# -- the kernel survives and records every fault -------------------------------------------------

async def test_kernel_death_is_recorded_and_the_kernel_restarts(tmp_path):
    async with KernelSession(tmp_path, timeout=20, startup_code=startup_code()) as k:
        cases = {
            "import os; os._exit(3)": "exit code 3",
            "import ctypes; ctypes.string_at(0)": "SIGSEGV",
            "import os, signal; os.kill(os.getpid(), signal.SIGKILL)": "SIGKILL",
        }
        for n, (code, reason) in enumerate(cases.items(), 1):
            await k.execute("x = 1")
            started = time.monotonic()
            result = await k.execute(code)
            restart_seconds = time.monotonic() - started
            assert result.status == "died", result
            assert reason in result.note and "restarted" in result.note
            assert result.error_name == "KernelDied"
            assert k.restarts == n
            assert restart_seconds < 15
            after = await k.execute("x")  # state is gone, the kernel works
            assert after.error_name == "NameError"
            assert (await k.execute("print(6*7)")).stdout() == "42\n"


async def test_timeout_interrupts_then_restarts_a_deaf_kernel(tmp_path):
    async with KernelSession(tmp_path, timeout=1.5, interrupt_grace=1.0) as k:
        await k.execute("y = 5")
        slept = await k.execute("import time; time.sleep(60)")
        assert slept.status == "timeout" and "interrupted after 1.5 s" in slept.note
        assert k.restarts == 0 and (await k.execute("print(y)")).stdout() == "5\n"
        started = time.monotonic()
        deaf = await k.execute("sum(range(10**13))")  # a C loop: SIGINT is not seen
        assert deaf.status == "timeout" and "restarted" in deaf.note
        assert k.restarts == 1
        assert time.monotonic() - started < 15
        assert (await k.execute("print(1+1)")).stdout() == "2\n"


async def test_output_floods_are_capped_in_the_kernel_and_fast(tmp_path):
    caps = OutputCaps(text_chars=100_000, images=5, outputs=50)
    async with KernelSession(tmp_path, timeout=60, caps=caps, startup_code=startup_code()) as k:
        big = await k.execute("print('x' * 50_000_000)")  # 50 MB in one write
        assert big.status == "ok"  # speed of this: benchmarks/, not a test
        assert big.truncated and len(big.stdout()) <= 100_000 + 4_096  # head + the kept tail
        assert "dropped 49900001 characters" in _streams(big)
        lines = await k.execute("for i in range(300_000): print('line', i)")
        assert lines.truncated and len(json.dumps(lines.outputs)) < 120_000
        shell = await k.execute("import os; os.system('head -c 20000000 /dev/zero | tr \"\\\\0\" z')")
        assert shell.truncated and len(json.dumps(shell.outputs)) < 120_000
        many = await k.execute("for i in range(20_000): display(i)")
        assert many.truncated and len(many.outputs) <= 52
        figs = await k.execute("import matplotlib.pyplot as plt\n"
                               "for i in range(30):\n"
                               "    plt.figure(); plt.plot([1, i]); plt.show()")
        assert len(figs.images()) == 5 and "dropped 25 figures" in _streams(figs)
        # a normal cell after the floods is whole again
        ok = await k.execute("print('a' * 10); 7")
        assert not ok.truncated and ok.result_text() == "7"


async def test_runaway_allocation_raises_memory_error_in_that_kernel(tmp_path):
    async with KernelSession(tmp_path, timeout=60,
                             limits=KernelLimits(memory_mb=1536)) as k:
        await k.execute("import numpy as np, pandas as pd, sklearn, matplotlib.pyplot as plt\n"
                        "keep = 1")
        one = await k.execute("a = np.ones(10**10)")
        assert one.error_name == "MemoryError"
        grow = await k.execute("l = []\nwhile True: l.append(bytearray(50 * 2**20))")
        assert grow.error_name == "MemoryError", grow
        assert (await k.execute("del l; print(keep)")).stdout() == "1\n"
        assert k.restarts == 0


# -- the sandbox ---------------------------------------------------------------------------------

@pytest.mark.skipif(not IS_ROOT, reason="the per-session uid needs root")
async def test_sandbox_user_cannot_write_outside_its_session(tmp_path):
    from cibench.sandbox import other_users_can_run_kernel
    if not other_users_can_run_kernel():
        pytest.skip(f"another uid cannot run {sys.executable} (Python installed in a folder "
                    "only root can read); kernels then run as the invoking user")
    task_dir = tmp_path / "suite"
    task_dir.mkdir()
    (task_dir / "task.ipynb").write_text("{}")
    other = tmp_path / "other-session"
    other.mkdir(mode=0o700)
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    os.environ["CIBENCH_TEST_API_KEY"] = "sekrit"
    try:
        box = Sandbox.for_session(SandboxOptions(), home=home)
        limits = KernelLimits(memory_mb=4096, processes=64)
        async with KernelSession(work, timeout=30, sandbox=box, limits=limits) as k:
            code = f"""
import os, resource
print(os.getuid() >= {UID_BASE}, os.getcwd() == {str(work)!r}, os.environ['HOME'] == {str(home)!r})
open('mine.txt', 'w').write('ok')
for target in [{str(task_dir / 'task.ipynb')!r}, {str(other / 'x')!r}, {str(task_dir / 'new')!r}]:
    try:
        open(target, 'w').write('x'); print('WROTE', target)
    except PermissionError:
        print('denied')
print(resource.getrlimit(resource.RLIMIT_NPROC)[0], 'CIBENCH_TEST_API_KEY' in os.environ)
"""
            result = await k.execute(code)
            assert result.stdout().split() == ["True", "True", "True", "denied", "denied",
                                               "denied", "64", "False"], result.outputs
            fork = await k.execute("import os\npids = []\ntry:\n    for _ in range(200):\n"
                                   "        pid = os.fork()\n        if pid == 0:\n"
                                   "            import time; time.sleep(30); os._exit(0)\n"
                                   "        pids.append(pid)\nexcept OSError as e:\n"
                                   "    print('stopped', len(pids) < 64)")
            assert "stopped True" in fork.stdout()
        box.reap()  # whatever outlived the kernel (forked sleepers) is killed
        await asyncio.sleep(0.5)
        assert box.reap() == 0
    finally:
        del os.environ["CIBENCH_TEST_API_KEY"]


async def test_no_network(tmp_path):
    options = SandboxOptions(network=False)
    try:
        box = Sandbox.for_session(options, home=None)
    except SandboxError as exc:  # the OS refuses: the error must say so clearly
        assert "--no-network" in str(exc)
        pytest.skip(str(exc))
    async with KernelSession(tmp_path, timeout=30, sandbox=box) as k:
        result = await k.execute("import socket\ntry:\n"
                                 "    socket.create_connection(('1.1.1.1', 53), timeout=3)\n"
                                 "    print('connected')\nexcept OSError as e:\n    print('blocked')")
        assert result.stdout() == "blocked\n"


# -- the "done when" scenario: one scripted session hits every fault and still ends right --------

SCRIPT: dict[int, list[str]] = {
    1: ["x = 21"],
    2: ["import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "print(x * 2)"],
    3: ["sum(range(10**13))", "print(x + 1)"],
    4: ["print('y' * 50_000_000)\nraise ValueError('flooded')", "print(x + 2)"],
    5: ["import numpy as np\nhuge = np.ones(10**11)", "print(x + 3)"],
    6: ["print(x + 4)"],
}
SEEN: list[tuple[int, int, str, str]] = []  # (step, attempt, status of last tool turn, note)


def _seen(step: Any, attempt: int, history: list[Any]) -> None:
    """Record what the agent was told about its last attempt (status and note of the tool turn)."""
    tools = [t for t in history if t.role == "tool" and t.step == step.index]
    if tools:
        SEEN.append((step.index, attempt, tools[-1].execution.status, tools[-1].execution.note))


register_agent("scripted-faults")(
    lambda name, options: ScriptedAgent(SCRIPT, name=name, thought="", on_reply=_seen))


@pytest.mark.slow
async def test_scripted_session_survives_every_fault(tmp_path):
    SEEN.clear()
    steps = [("exec", "Set x to 21.", "x = 21")] + [
        ("num", f"Print x plus {n}.", f"print(x + {n})") for n in (21, 1, 2, 3, 4)]
    write_task(tmp_path / "suite", "faults", steps)
    settings = SessionSettings(limits=KernelLimits(memory_mb=2048), interrupt_grace=1.0,
                               sandbox=SandboxOptions())
    opts = RunOptions(paths=[str(tmp_path / "suite")], models=["scripted-faults"],
                      out=tmp_path / "out", oracle_dir=tmp_path / "oracle", timeout=3.0,
                      jobs=1, settings=settings)
    started = time.monotonic()
    result = await run_benchmark(opts)
    assert time.monotonic() - started < 90
    assert result.errors == 0
    row = result.summary["results"][0]
    assert row["metrics"]["num_acc"] == 100.0 and row["steps"] == 6, row
    statuses = {step: (status, note) for step, _, status, note in SEEN}
    assert statuses[2][0] == "died" and "state restored" in statuses[2][1]
    assert statuses[3][0] == "timeout" and "state restored" in statuses[3][1]
    assert statuses[4][0] == "error"
    assert statuses[5][0] == "error"
    notebook = next((tmp_path / "out").rglob("faults.ipynb"))
    assert notebook.stat().st_size < 600_000  # the flood left no trace beyond the cap


# -- a killed run resumes without losing or repeating work ---------------------------------------

def _suite(folder: Path) -> Path:
    for n in range(4):
        write_task(folder, f"t{n}", [
            ("num", "Read the numbers and print their sum.",
             ("import pandas as pd, time\ndf = pd.read_csv('data/n.csv')\ntime.sleep(1)\n"
              f"print(df['v'].sum() + {n})")),
            ("text", "Say hello.", f"print('hello number {n}')"),
        ], data={"data/n.csv": "v\n1\n2\n3\n"})
    return folder


def _results(out: Path) -> list[dict]:
    rows = json.loads((out / "summary.json").read_text())["results"]
    for row in rows:
        row.pop("usage")
    return rows


def _uid_processes(pid: int) -> list[int]:
    low = UID_BASE + (pid % 1_000_000) * 100
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
                uid = int(next(line for line in status.splitlines()
                               if line.startswith("Uid:")).split()[1])
            except (OSError, StopIteration):
                continue
            if "\nState:\tZ" in status:
                continue
            if low <= uid < low + 100:
                found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_resume_after_sigkill_matches_an_uninterrupted_run(tmp_path):
    suite = _suite(tmp_path / "suite")
    oracle = tmp_path / "oracle"
    base = [*CLI, "run", str(suite), "--model", "oracle", "--oracle-dir", str(oracle),
            "--jobs", "1"]
    subprocess.run([*CLI, "validate", str(suite), "--oracle-dir", str(oracle)], check=True,
                   capture_output=True)
    whole = tmp_path / "whole"
    subprocess.run([*base, "--out", str(whole)], check=True, capture_output=True)

    cut = tmp_path / "cut"
    proc = subprocess.Popen([*base, "--out", str(cut)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(cut.rglob("*.ipynb")) and time.monotonic() < deadline:
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.name: p.read_bytes() for p in cut.rglob("*.ipynb")}
    assert 1 <= len(done_before) < 4
    assert not (cut / "summary.json").exists()
    assert not list(cut.rglob("*.tmp"))
    if IS_ROOT:  # its kernels died with it (setpriv --pdeathsig)
        deadline = time.monotonic() + 5
        while _uid_processes(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _uid_processes(proc.pid) == []

    again = subprocess.run([*base, "--out", str(cut)], capture_output=True, text=True,
                           check=False)
    assert again.returncode == 0, again.stderr
    after = {p.name: p.read_bytes() for p in cut.rglob("*.ipynb")}
    assert len(after) == 4
    for name, content in done_before.items():
        assert after[name] == content  # finished sessions were skipped, not redone
    assert _results(cut) == _results(whole)


# -- bad input: one line, exit 2, nothing written ------------------------------------------------

def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=120,
                          check=False)


def _one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if "error" in ln.lower()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_bad_input_fails_in_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.ipynb").write_text("{ not json")
    _one_line_error(_cli("run", str(broken), "--model", "oracle", "--out", str(out)), "bad.ipynb")
    nodata = write_task(tmp_path / "nodata", "reads", [
        ("num", "Sum the column.",
         "import pandas as pd\nprint(pd.read_csv('data/missing.csv')['v'].sum())")])
    _one_line_error(_cli("validate", str(nodata), "--oracle-dir", str(tmp_path / "o")),
                    "reads.ipynb", "data/missing.csv", "cell 0")
    _one_line_error(_cli("run", str(nodata), "--model", "oracle", "--out", str(out)),
                    "data/missing.csv")
    good = write_task(tmp_path / "good", "fine", [("num", "Print 2.", "print(2)")])
    _one_line_error(_cli("run", str(good), "--model", "no-such-model", "--out", str(out)),
                    "no-such-model")
    _one_line_error(_cli("run", str(good), "--model", "openai/x", "--api-base",
                         "http://127.0.0.1:9/v1", "--out", str(out)), "--api-base")
    _one_line_error(_cli("run", str(good), "--jobs", "zero"), "--jobs")
    _one_line_error(_cli("run", str(good), "--memory-limit", "-5"), "--memory-limit")
    _one_line_error(_cli("run", str(good), "--bogus-flag"), "--bogus-flag")
    _one_line_error(_cli("run", str(tmp_path / "nowhere"), "--model", "oracle"), "nowhere")
    assert not out.exists()
    assert not (tmp_path / "o").exists()
    debug = _cli("--debug", "run", str(broken), "--model", "oracle", "--out", str(out))
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_two_runs_cannot_share_a_folder(tmp_path):
    import fcntl
    out = tmp_path / "out"
    out.mkdir()
    good = write_task(tmp_path / "good", "fine", [("num", "Print 2.", "print(2)")])
    with open(out / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        _one_line_error(_cli("run", str(good), "--model", "oracle", "--out", str(out),
                             "--oracle-dir", str(tmp_path / "o")), "another `cibench run`")
