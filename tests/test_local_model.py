"""The embedded local model (cibench/local_model.py).

The fast tests use a stand-in server script; the `slow` test starts the real llama.cpp server
(xllamacpp, with the weights `bash scripts/setup.sh` installs) and gets a completion through litellm.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
import textwrap
from pathlib import Path

import pytest

from cibench import local_model as lm
from cibench import local_weights
from cibench.errors import LocalModelError


def test_unknown_model_name_lists_known_names():
    with pytest.raises(LocalModelError) as info:
        lm.find_gguf("no-such-model")
    message = str(info.value)
    assert "no-such-model" in message
    for name in lm.LOCAL_MODELS:
        assert name in message
    with pytest.raises(LocalModelError, match="known local models"):
        lm.LocalModelServer("no-such-model")


def test_default_model_is_registered():
    assert lm.DEFAULT_LOCAL_MODEL in lm.LOCAL_MODELS
    for spec in lm.LOCAL_MODELS.values():
        assert "\nResponse:" in spec.stops and spec.stop
        assert len(spec.stops) <= lm.MAX_STOPS  # litellm drops any beyond 4


def test_missing_gguf_path_is_a_clear_error(tmp_path):
    with pytest.raises(LocalModelError, match="does not exist"):
        lm.find_gguf(str(tmp_path / "missing.gguf"))


def test_missing_weights_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(local_weights, "_module_dir", lambda module: None)
    with pytest.raises(LocalModelError, match="scripts/setup.sh"):
        lm.find_gguf(lm.DEFAULT_LOCAL_MODEL)


def test_missing_backends_say_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("llama_cpp", "xllamacpp") else real(name, *a))
    with pytest.raises(LocalModelError, match=r"xllamacpp .* is not installed; run `pip install -e \.`"):
        lm.check_backend("xllamacpp")
    with pytest.raises(LocalModelError, match=r"llama-cpp-python is not installed; run `CIBENCH_LLAMA_CPP_PYTHON=1"):
        lm.check_backend("llama-cpp-python")


def test_backend_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("CIBENCH_LOCAL_BACKEND", raising=False)
    assert lm.backend_from_env() == "xllamacpp"
    monkeypatch.setenv("CIBENCH_LOCAL_BACKEND", "llama-cpp-python")
    assert lm.backend_from_env() == "llama-cpp-python"
    monkeypatch.setenv("CIBENCH_LOCAL_BACKEND", "vllm")
    with pytest.raises(LocalModelError, match="CIBENCH_LOCAL_BACKEND='vllm'.*known: xllamacpp, llama-cpp-python"):
        lm.backend_from_env()


def test_one_thread_by_default(monkeypatch):
    monkeypatch.delenv("CIBENCH_LOCAL_THREADS", raising=False)
    assert lm.LocalModelServer().threads == 1
    monkeypatch.setenv("CIBENCH_LOCAL_THREADS", "2")
    assert lm.LocalModelServer().threads == 2


FAKE_SERVER = textwrap.dedent("""\
    #!{python}
    # Stand-in for the model server: answers GET /v1/models on --port.
    import json, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer
    args = sys.argv[1:]
    if {fail}:
        print("llama_model_load: error loading model: boom", file=sys.stderr)
        sys.exit(3)
    port = int(args[args.index("--port") + 1])
    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({{"data": [{{"id": "x"}}]}}).encode()
            self.send_response(200); self.end_headers(); self.wfile.write(body)
        def log_message(self, *a): pass
    with open(sys.argv[0] + ".pid", "w") as f:
        import os; f.write(str(os.getpid()))
    HTTPServer(("127.0.0.1", port), H).serve_forever()
""")


def _fake_python(tmp_path: Path, fail: bool) -> Path:
    script = tmp_path / "fake-python"
    script.write_text(FAKE_SERVER.format(python=sys.executable, fail=fail))
    script.chmod(0o755)
    return script


@pytest.mark.skipif(sys.platform == "win32", reason="uses a shebang script")
def test_server_lifecycle_with_stand_in(tmp_path, monkeypatch):
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF")
    fake = _fake_python(tmp_path, fail=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-never-in-argv")

    async def go():
        async with lm.LocalModelServer(str(gguf), python=str(fake), startup_timeout=20) as srv:
            assert srv.api_base.startswith("http://127.0.0.1:") and srv.api_base.endswith("/v1")
            assert srv.litellm_model == "openai/tiny"
            assert not any("sk-secret" in part for part in srv.command())
            pid = int(Path(str(fake) + ".pid").read_text())
            os.kill(pid, 0)  # running
        return pid

    pid = asyncio.run(go())
    with pytest.raises(ProcessLookupError):  # stopped and reaped: no orphan
        os.kill(pid, 0)


@pytest.mark.skipif(sys.platform == "win32", reason="uses a shebang script")
def test_server_start_failure_reports_its_stderr(tmp_path):
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF")
    fake = _fake_python(tmp_path, fail=True)

    async def go():
        async with lm.LocalModelServer(str(gguf), python=str(fake), startup_timeout=20,
                                       log_path=tmp_path / "server.log"):
            pass

    with pytest.raises(LocalModelError, match="exited with status 3.*error loading model: boom"):
        asyncio.run(go())


@pytest.mark.slow
def test_real_local_model_answers_through_litellm():
    if importlib.util.find_spec("litellm") is None:
        pytest.skip("litellm is not installed")
    try:
        lm.find_gguf(lm.DEFAULT_LOCAL_MODEL)
    except LocalModelError as exc:
        pytest.skip(str(exc))
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    async def go():
        async with lm.LocalModelServer(n_ctx=2048, startup_timeout=180) as srv:
            resp = await litellm.acompletion(
                model=srv.litellm_model, api_base=srv.api_base, api_key="local",
                messages=[{"role": "system", "content": lm.SMOKE_SYSTEM},
                          {"role": "user", "content": "Print the sum of 2 and 3 in Python."}],
                max_tokens=64, temperature=0.0, stop=srv.stop, timeout=120,
            )
            return resp

    resp = asyncio.run(go())
    text = resp.choices[0].message.content
    assert isinstance(text, str) and text.strip()
    assert resp.usage.completion_tokens > 0
