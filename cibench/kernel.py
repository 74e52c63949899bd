"""A live IPython kernel for one session: start, execute with a timeout, interrupt, restart.

`KernelSession` is an async context manager around jupyter_client's `AsyncKernelManager`. The
kernel runs the kernelspec in `kernels/cibench-python` inside a scratch working directory, over
the `ipc` transport (a socket folder of its own, so many kernels never race for TCP ports), with
a scrubbed environment (no API keys, no inherited `MPLBACKEND`, which would silence `image/png`)
and resource limits applied with `prlimit`. `execute` turns the kernel's messages into an
`Execution` record, with output caps; a cell that outlives its timeout is interrupted and, if the
kernel does not answer the interrupt (a C-level loop ignores SIGINT), the kernel is restarted.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager

from .errors import KernelError
from .records import Execution

log = logging.getLogger(__name__)

KERNEL_NAME = "cibench-python"
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
SECRET_RE = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$|^AWS_|^AZURE_|_API_BASE$",
                       re.IGNORECASE)
DROPPED_ENV = {"MPLBACKEND", "JPY_SESSION_NAME", "JUPYTER_TOKEN"}
INTERRUPT_GRACE = 5.0


def kernels_dir() -> Path:
    """The `kernels/` folder: $CIBENCH_KERNELS_DIR, else the one beside the package."""
    env = os.environ.get("CIBENCH_KERNELS_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "kernels"


def scrubbed_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The kernel's environment: the parent's minus secrets and variables that change behaviour."""
    env = dict(os.environ if base is None else base)
    for name in list(env):
        if name in DROPPED_ENV or SECRET_RE.search(name) or name.startswith("LITELLM"):
            del env[name]
    env["PYTHONHASHSEED"] = "0"
    env["CIBENCH_KERNEL"] = "1"
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


@dataclass(frozen=True)
class KernelLimits:
    """Resource limits for the kernel process (None = unlimited)."""

    memory_mb: int | None = None
    cpu_seconds: int | None = None
    file_size_mb: int | None = None
    processes: int | None = None
    open_files: int | None = None

    def prlimit_prefix(self) -> list[str]:
        args = []
        if self.memory_mb:
            args.append(f"--as={self.memory_mb * 1024 * 1024}")
        if self.cpu_seconds:
            args.append(f"--cpu={self.cpu_seconds}")
        if self.file_size_mb:
            args.append(f"--fsize={self.file_size_mb * 1024 * 1024}")
        if self.processes:
            args.append(f"--nproc={self.processes}")
        if self.open_files:
            args.append(f"--nofile={self.open_files}")
        if not args:
            return []
        prlimit = shutil.which("prlimit")
        if prlimit is None:
            log.warning("prlimit not found; kernel runs without resource limits")
            return []
        return [prlimit, *args, "--"]


@dataclass
class OutputCaps:
    """Caps per execution: text characters kept and figures kept."""

    text_chars: int = 100_000
    images: int = 20
    traceback_frames: int = 3


class _Manager(AsyncKernelManager):
    """A kernel manager whose command is prefixed (prlimit, network isolation)."""

    cmd_prefix: list[str] = []

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return [*self.cmd_prefix, *super().format_kernel_cmd(extra_arguments)]


def trim_traceback(lines: list[str], frames: int) -> list[str]:
    """Keep the header, the frames of the user's own cell, the last library frames and the
    exception line; a 40-frame pandas traceback becomes a screenful at most."""
    lines = [ANSI_RE.sub("", line) for line in lines]
    if len(lines) <= frames + 2:
        return lines
    head, body, last = lines[0], lines[1:-1], lines[-1]
    keep = {i for i, frame in enumerate(body) if "Cell In[" in frame or "<ipython-input" in frame}
    keep |= set(range(max(0, len(body) - frames), len(body)))
    out = [head]
    hidden = 0
    for i, frame in enumerate(body):
        if i in keep:
            if hidden:
                out.append(f"... {hidden} frame{'s' if hidden > 1 else ''} hidden ...")
                hidden = 0
            out.append(frame)
        else:
            hidden += 1
    if hidden:
        out.append(f"... {hidden} frames hidden ...")
    out.append(last)
    return out


class _Collector:
    """Turns iopub messages into nbformat outputs, with caps."""

    def __init__(self, caps: OutputCaps):
        self.caps = caps
        self.outputs: list[dict[str, Any]] = []
        self.text_used = 0
        self.images = 0
        self.truncated = False
        self.dropped_chars = 0
        self.dropped_images = 0

    def _take_text(self, text: str) -> str:
        room = self.caps.text_chars - self.text_used
        if len(text) <= room:
            self.text_used += len(text)
            return text
        self.truncated = True
        self.dropped_chars += len(text) - max(room, 0)
        kept = text[:max(room, 0)]
        self.text_used = self.caps.text_chars
        return kept

    def stream(self, name: str, text: str) -> None:
        text = self._take_text(ANSI_RE.sub("", text))
        if not text:
            return
        if self.outputs and self.outputs[-1]["output_type"] == "stream" \
                and self.outputs[-1]["name"] == name:
            self.outputs[-1]["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    def data(self, kind: str, content: dict[str, Any]) -> None:
        data = dict(content.get("data", {}))
        if "image/png" in data:
            if self.images >= self.caps.images:
                self.truncated = True
                self.dropped_images += 1
                return
            self.images += 1
        # keep only what a notebook needs and the scorer reads
        data = {k: v for k, v in data.items()
                if k in ("text/plain", "image/png", "text/html", "text/markdown", "image/jpeg",
                         "image/svg+xml", "text/latex", "application/json")}
        if "text/html" in data and len(data["text/html"]) > self.caps.text_chars // 2:
            del data["text/html"]
        if "text/plain" in data:
            data["text/plain"] = self._take_text(data["text/plain"])
        out: dict[str, Any] = {"output_type": kind, "data": data,
                               "metadata": content.get("metadata", {}) or {}}
        if kind == "execute_result":
            out["execution_count"] = content.get("execution_count")
        self.outputs.append(out)

    def error(self, content: dict[str, Any]) -> None:
        self.outputs.append({"output_type": "error", "ename": content.get("ename", "Error"),
                             "evalue": ANSI_RE.sub("", content.get("evalue", "")),
                             "traceback": trim_traceback(content.get("traceback", []),
                                                         self.caps.traceback_frames)})

    def clear(self) -> None:
        self.outputs = [o for o in self.outputs if o["output_type"] == "error"]

    def finish(self) -> tuple[list[dict[str, Any]], bool]:
        if self.truncated:
            bits = []
            if self.dropped_chars:
                bits.append(f"{self.dropped_chars} characters")
            if self.dropped_images:
                bits.append(f"{self.dropped_images} figures")
            self.outputs.append({"output_type": "stream", "name": "stderr",
                                 "text": f"\n[cibench: output cut; dropped {' and '.join(bits)}]\n"})
        return self.outputs, self.truncated


@dataclass
class KernelSession:
    """One live kernel in one working directory. Use as `async with KernelSession(dir) as k`."""

    workdir: Path
    timeout: float = 60.0
    limits: KernelLimits = field(default_factory=KernelLimits)
    caps: OutputCaps = field(default_factory=OutputCaps)
    startup_code: str = ""
    kernel_name: str = KERNEL_NAME
    cmd_prefix: list[str] = field(default_factory=list)
    restarts: int = 0

    _km: _Manager | None = field(default=None, init=False, repr=False)
    _kc: Any = field(default=None, init=False, repr=False)
    _ipc_dir: Path | None = field(default=None, init=False, repr=False)
    _log: Any = field(default=None, init=False, repr=False)

    async def __aenter__(self) -> "KernelSession":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    async def start(self) -> None:
        self.workdir = Path(self.workdir)
        self._ipc_dir = Path(tempfile.mkdtemp(prefix="cibench-ipc-"))
        spec_manager = KernelSpecManager(kernel_dirs=[str(kernels_dir())])
        km = _Manager(kernel_name=self.kernel_name, kernel_spec_manager=spec_manager,
                      transport="ipc", ip=str(self._ipc_dir / "kernel"),
                      connection_file=str(self._ipc_dir / "connection.json"))
        km.cmd_prefix = [*self.cmd_prefix, *self.limits.prlimit_prefix()]
        self._km = km
        started = time.monotonic()
        try:
            self._log = open(self._ipc_dir / "kernel.log", "ab")
            await km.start_kernel(env=scrubbed_environment(), cwd=str(self.workdir),
                                  stdout=self._log, stderr=self._log)
        except Exception as exc:
            await self.shutdown()
            raise KernelError(f"could not start kernel {self.kernel_name!r}: {exc}",
                              path=kernels_dir(), hint="is ipykernel installed?") from exc
        await self._connect()
        log.debug("kernel started in %.2f s (%s)", time.monotonic() - started, self.workdir)

    async def _connect(self) -> None:
        assert self._km is not None
        kc = self._km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
        except RuntimeError as exc:
            kc.stop_channels()
            raise KernelError(f"kernel did not become ready: {exc}") from exc
        self._kc = kc
        if self.startup_code:
            result = await self.execute(self.startup_code, timeout=60, store_history=False)
            if not result.ok:
                err = result.error or {}
                raise KernelError("kernel startup code failed: "
                                  f"{err.get('ename', result.status)}: {err.get('evalue', '')}")

    async def shutdown(self) -> None:
        if self._kc is not None:
            self._kc.stop_channels()
            self._kc = None
        if self._km is not None:
            try:
                if self._km.has_kernel:
                    await self._km.shutdown_kernel(now=True)
            except Exception as exc:  # shutdown must never mask the real error
                log.debug("kernel shutdown: %s", exc)
            self._km = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._ipc_dir is not None:
            shutil.rmtree(self._ipc_dir, ignore_errors=True)
            self._ipc_dir = None

    async def is_alive(self) -> bool:
        return self._km is not None and await self._km.is_alive()

    async def restart(self) -> None:
        """A fresh kernel process in the same working directory; all state is lost."""
        assert self._km is not None
        self.restarts += 1
        if self._kc is not None:
            self._kc.stop_channels()
            self._kc = None
        try:
            await self._km.restart_kernel(now=True)
        except Exception as exc:
            raise KernelError(f"could not restart the kernel: {exc}") from exc
        await self._connect()
        log.info("kernel restarted (%s)", self.workdir)

    async def interrupt(self) -> None:
        if self._km is not None:
            await self._km.interrupt_kernel()

    async def execute(self, code: str, *, timeout: float | None = None,
                      store_history: bool = True) -> Execution:
        """Run code; never raises for what the code does (errors, hangs, death are recorded)."""
        if self._kc is None:
            raise KernelError("kernel is not running")
        timeout = self.timeout if timeout is None else timeout
        kc = self._kc
        collector = _Collector(self.caps)
        started = time.monotonic()
        msg_id = kc.execute(code, store_history=store_history, allow_stdin=False,
                            stop_on_error=False)
        deadline = started + timeout
        status = "ok"
        note = ""
        interrupted_at: float | None = None
        while True:
            now = time.monotonic()
            if interrupted_at is None and now >= deadline:
                log.info("cell ran past %.0f s; interrupting", timeout)
                await self.interrupt()
                interrupted_at = now
                status, note = "timeout", f"interrupted after {timeout:.0f} s"
            if interrupted_at is not None and now - interrupted_at >= INTERRUPT_GRACE:
                note = f"no answer {INTERRUPT_GRACE:.0f} s after interrupt at {timeout:.0f} s; " \
                       "kernel restarted, state lost"
                await self.restart()
                break
            wait = max(0.05, min(1.0, (deadline if interrupted_at is None
                                        else interrupted_at + INTERRUPT_GRACE) - now))
            try:
                msg = await kc.get_iopub_msg(timeout=wait)
            except queue.Empty:
                if not await self.is_alive():
                    status, note = "died", "the kernel died; it was restarted and state was lost"
                    await self.restart()
                    break
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content.get("execution_state") == "idle":
                break
            if kind == "stream":
                collector.stream(content.get("name", "stdout"), content.get("text", ""))
            elif kind in ("execute_result", "display_data"):
                collector.data(kind, content)
            elif kind == "update_display_data":
                collector.data("display_data", content)
            elif kind == "error":
                collector.error(content)
                if status == "ok":
                    status = "error"
            elif kind == "clear_output":
                collector.clear()
        outputs, truncated = collector.finish()
        if status == "timeout" and not any(o["output_type"] == "error" for o in outputs):
            outputs.append({"output_type": "error", "ename": "TimeoutError",
                            "evalue": note, "traceback": [f"TimeoutError: {note}"]})
        if status == "died":
            outputs.append({"output_type": "error", "ename": "KernelDied", "evalue": note,
                            "traceback": [f"KernelDied: {note}"]})
        return Execution(status=status, outputs=outputs, seconds=round(time.monotonic() - started, 3),
                         truncated=truncated, note=note)


def startup_code() -> str:
    """The code every session kernel runs first: kernels/cibench-python/startup.py + figure hook."""
    parts = [(kernels_dir() / KERNEL_NAME / "startup.py").read_text()]
    try:
        from .scoring.figure_data import KERNEL_HOOK_CODE
        parts.append(KERNEL_HOOK_CODE)
    except ImportError:  # pragma: no cover - the scoring package always ships it
        log.warning("figure-data hook unavailable")
    return "\n\n".join(parts)

