"""The kernel session against a real ipykernel: outputs, errors, timeout, restart, environment."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from cibench.collector import TAIL_CHARS
from cibench.kernel import KernelSession, OutputCaps, scrubbed_environment, startup_code

pytestmark = pytest.mark.kernel


@pytest.fixture
async def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")  # must not reach the kernel
    monkeypatch.setenv("SOME_API_KEY", "sk-secret-value")
    async with KernelSession(tmp_path, timeout=3, startup_code=startup_code(),
                             caps=OutputCaps(text_chars=2000, images=2)) as k:
        yield k


async def test_outputs_of_each_kind(kernel: KernelSession, tmp_path: Path) -> None:
    r = await kernel.execute("import sys, os\nprint('out'); print('err', file=sys.stderr)\n"
                             "os.getcwd()")
    assert r.ok and r.status == "ok"
    assert r.stdout() == "out\n"
    assert any(o.get("name") == "stderr" for o in r.outputs)
    assert r.result_text() == repr(str(tmp_path))
    fig = await kernel.execute("import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()")
    assert fig.ok and len(fig.images()) == 1
    assert base64.b64decode(fig.images()[0])[:8] == b"\x89PNG\r\n\x1a\n"


async def test_errors_have_plain_short_tracebacks(kernel: KernelSession) -> None:
    r = await kernel.execute("import pandas as pd\npd.DataFrame({'a': [1]})['b']")
    assert r.status == "error" and r.error_name == "KeyError"
    tb = "\n".join(r.error["traceback"])
    assert "\x1b[" not in tb
    assert "Cell In[" in tb and "hidden" in tb  # the user's frame kept, library frames cut
    assert len(r.error["traceback"]) <= 8
    syntax = await kernel.execute("def f(:\n  pass")
    assert syntax.error_name == "SyntaxError"


async def test_state_persists_and_input_is_refused(kernel: KernelSession) -> None:
    await kernel.execute("x = 41")
    assert (await kernel.execute("x + 1")).result_text() == "42"
    r = await kernel.execute("input('name? ')")
    assert r.status == "error"


async def test_timeout_interrupts_and_keeps_state(kernel: KernelSession) -> None:
    await kernel.execute("kept = 'yes'")
    r = await kernel.execute("import time\ntime.sleep(30)", timeout=1)
    assert r.status == "timeout" and "interrupted" in r.note
    assert r.seconds < 6
    assert kernel.restarts == 0
    assert (await kernel.execute("kept")).result_text() == "'yes'"


@pytest.mark.slow
async def test_uninterruptible_loop_restarts_kernel(kernel: KernelSession) -> None:
    await kernel.execute("lost = 1")
    r = await kernel.execute("sum(range(10**13))", timeout=1)
    assert r.status == "timeout" and "restarted" in r.note
    assert kernel.restarts == 1
    assert (await kernel.execute("lost")).error_name == "NameError"
    assert (await kernel.execute("1 + 1")).result_text() == "2"


async def test_death_is_recorded_and_kernel_comes_back(kernel: KernelSession) -> None:
    r = await kernel.execute("import os\nos._exit(3)")
    assert r.status == "died" and r.error_name == "KernelDied"
    assert kernel.restarts == 1
    assert (await kernel.execute("2 * 21")).result_text() == "42"


async def test_output_caps(kernel: KernelSession) -> None:
    r = await kernel.execute("print('x' * 10000)")
    assert r.truncated
    # the head up to the cap, the tail of what the cap dropped (for OpenCompass's cut), a marker
    assert sum(len(o.get("text", "")) for o in r.outputs) < 2200 + TAIL_CHARS
    assert r.outputs[-2]["text"] == "x" * (TAIL_CHARS - 1) + "\n"
    assert "output cut" in r.outputs[-1]["text"]
    figs = await kernel.execute("import matplotlib.pyplot as plt\n"
                                "for i in range(4):\n    plt.figure(); plt.plot([i]); plt.show()")
    assert len(figs.images()) == 2 and figs.truncated


async def test_environment_is_scrubbed(kernel: KernelSession) -> None:
    r = await kernel.execute("import os\nprint(sorted(os.environ))\n"
                             "print(os.environ.get('MPLBACKEND'))")
    text = r.stdout()
    assert "SOME_API_KEY" not in text and "sk-secret-value" not in text
    assert "Agg" not in text  # ipykernel's inline backend, not the inherited Agg


def test_scrub_rules() -> None:
    env = scrubbed_environment({"OPENAI_API_KEY": "a", "HF_TOKEN": "b", "DB_PASSWORD": "c",
                                "AWS_REGION": "d", "PATH": "/bin", "MPLBACKEND": "Agg",
                                "MY_SECRET": "e", "HOME": "/root"})
    assert set(env) >= {"PATH", "HOME"}
    assert not {"OPENAI_API_KEY", "HF_TOKEN", "DB_PASSWORD", "AWS_REGION", "MPLBACKEND",
                "MY_SECRET"} & set(env)
