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

import asyncio
import logging
import os
import queue
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager

from .collector import ANSI_RE, DROPPED_MIME, Collector, OutputCaps, clean_name
from .errors import KernelError
from .kernel_code import GUARD_CODE, KERNEL_NAME, RESEED_CODE, SEEDING, startup_code
from .kernel_env import kernel_python
from .limits import KernelLimits, scrubbed_environment
from .records import ExecStatus, Execution
from .resources import kernels_dir
from .sandbox import Sandbox, group_processes, kill_group, uid_processes
from .treewatch import TreeWatch

log = logging.getLogger(__name__)

INTERRUPT_GRACE = 5.0
REPLY_WAIT = 10.0  # s to wait for the shell channel's execute_reply after the cell went idle
__all__ = ["DROPPED_MIME", "SEEDING", "KernelLimits", "KernelSession", "OutputCaps",
           "scrubbed_environment", "startup_code"]


class _Manager(AsyncKernelManager):
    """A kernel manager whose command is prefixed (prlimit, network isolation)."""

    cmd_prefix: list[str] = []

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if cmd and cmd[0] in ("python", sys.executable):  # the spec's "python": the kernel env's
            cmd[0] = kernel_python()
        return [*self.cmd_prefix, *cmd]


@dataclass
class KernelSession:
    """One live kernel in one working directory. Use as `async with KernelSession(dir) as k`.

    Faults are data, not exceptions: `execute` records a cell that errs, outlives `timeout`
    (interrupted; restarted when the interrupt goes unanswered for `interrupt_grace` s) or
    kills the kernel (restarted), and `restarts` counts restarts so the caller can rebuild state.
    Only infrastructure failures (the kernel cannot start or restart) raise `KernelError`.
    """

    workdir: Path
    timeout: float = 60.0
    limits: KernelLimits = field(default_factory=KernelLimits)
    caps: OutputCaps = field(default_factory=OutputCaps)
    startup_code: str = ""
    kernel_name: str = KERNEL_NAME
    cmd_prefix: list[str] = field(default_factory=list)
    restarts: int = 0
    interrupt_grace: float = INTERRUPT_GRACE
    sandbox: Sandbox | None = None
    secret_env: tuple[str, ...] = ()  # variables holding keys the run uses (always scrubbed)

    _km: _Manager | None = field(default=None, init=False, repr=False)
    _kc: Any = field(default=None, init=False, repr=False)
    _ipc_dir: Path | None = field(default=None, init=False, repr=False)
    _log: Any = field(default=None, init=False, repr=False)
    _starting: bool = field(default=False, init=False, repr=False)
    _pgids: set[int] = field(default_factory=set, init=False, repr=False)
    _watch: TreeWatch | None = field(default=None, init=False, repr=False)
    _seed: int | None = field(default=None, init=False, repr=False)  # sent before the next cell
    _seed_msg: str | None = field(default=None, init=False, repr=False)
    last_expressions: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    async def __aenter__(self) -> KernelSession:
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
        box = self.sandbox
        limits = self.limits.prlimit_prefix()
        km.cmd_prefix = [*self.cmd_prefix, *(box.prefix(limits) if box else limits)]
        self._km = km
        started = time.monotonic()
        env = scrubbed_environment(secret_names=self.secret_env)
        try:
            if box is not None:
                env = box.environment(env)
                km.write_connection_file()  # written now so the sandbox user can own it
                box.prepare(self._ipc_dir, self.workdir, *([box.home] if box.home else []))
            self._log = open(self._ipc_dir / "kernel.log", "ab")
            await km.start_kernel(env=env, cwd=str(self.workdir),
                                  stdout=self._log, stderr=self._log)
            self._note_group()
            await self._connect()
            if self.limits.memory_mb:
                self._watch = TreeWatch(self.limits.memory_mb, self._tree, self._kill_tree)
                self._watch.start()
        except Exception as exc:
            reason = self._log_tail() or str(exc)
            await self.shutdown()
            hint = "is ipykernel installed?"
            if box is not None and box.uid is not None:
                hint = (f"the kernel runs as uid {box.uid}, which must be able to read the Python "
                        "installation; make it world-readable or pass --kernel-user off")
            if isinstance(exc, KernelError):
                raise KernelError(f"{exc.message}; kernel log: {reason}" if reason != str(exc)
                                  else exc.message, path=kernels_dir(), hint=hint) from exc
            raise KernelError(f"could not start kernel {self.kernel_name!r}: {reason}",
                              path=kernels_dir(), hint=hint) from exc
        log.debug("kernel started in %.2f s (%s)", time.monotonic() - started, self.workdir)

    def _log_tail(self, chars: int = 300) -> str:
        """The last line(s) the kernel process wrote to its own stdout/stderr."""
        if self._ipc_dir is None:
            return ""
        try:
            with open(self._ipc_dir / "kernel.log", "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - chars))
                text = fh.read().decode(errors="replace")
        except OSError:
            return ""
        lines = [ln.strip() for ln in ANSI_RE.sub("", text).splitlines() if ln.strip()]
        return lines[-1] if lines else ""

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
        guard = (GUARD_CODE + f"\n__cibench_install_guard({self.caps.text_chars}, "
                 f"{self.caps.images}, {self.caps.outputs}, {DROPPED_MIME!r}, "
                 f"{self.caps.rich_chars + self.caps.image_chars})\n"
                 "del __cibench_install_guard\n")
        for what, code in (("startup code", self.startup_code), ("output guard", guard)):
            if not code:
                continue
            self._starting = True
            try:
                result = await self.execute(code, timeout=60, store_history=False)
            finally:
                self._starting = False
            if not result.ok:
                err = result.error or {}
                raise KernelError(f"kernel {what} failed: "
                                  f"{err.get('ename', result.status)}: {err.get('evalue', '')}")

    def _tree(self) -> list[int]:
        """The session's live processes: its uid's, else its kernel process groups'."""
        if self.sandbox is not None and self.sandbox.own_uid and self.sandbox.uid is not None:
            return uid_processes(self.sandbox.uid)
        return [pid for pgid in sorted(self._pgids) for pid in group_processes(pgid)]

    def _kill_tree(self) -> None:
        if self.sandbox is not None and self.sandbox.own_uid:
            self.sandbox.reap()
        else:
            for pgid in sorted(self._pgids):
                kill_group(pgid)

    def _note_group(self) -> None:
        """Remember the kernel's process group: what is left of it is killed at shutdown."""
        pgid = getattr(getattr(self._km, "provisioner", None), "pgid", None)
        if isinstance(pgid, int) and pgid > 1 and pgid != os.getpgrp():
            self._pgids.add(pgid)

    async def shutdown(self) -> None:
        if self._watch is not None:
            await self._watch.stop()
            self._watch = None
        if self._kc is not None:
            self._kc.stop_channels()
            self._kc = None
        if self._km is not None:
            self._note_group()
            try:
                if self._km.has_kernel:
                    await self._km.shutdown_kernel(now=True)
            except Exception as exc:  # shutdown must never mask the real error
                log.debug("kernel shutdown: %s", exc)
            self._km = None
        if self.sandbox is None or not self.sandbox.own_uid:
            # without a uid of its own, the kernel's process group is what can be cleaned up
            # (a session uid is reaped whole by Sandbox.reap)
            for pgid in sorted(self._pgids):
                await asyncio.to_thread(kill_group, pgid)
            self._pgids.clear()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._ipc_dir is not None:
            shutil.rmtree(self._ipc_dir, ignore_errors=True)
            self._ipc_dir = None

    async def is_alive(self) -> bool:
        return self._km is not None and await self._km.is_alive()

    async def _exit_reason(self) -> str:
        """How the kernel process ended: 'killed by SIGKILL', 'exit code 1', or ''."""
        try:
            provisioner = self._km.provisioner if self._km is not None else None
            code = await provisioner.poll() if provisioner is not None else None
        except Exception:
            code = None
        if code is None:
            return ""
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            why = {"SIGKILL": "; out of memory or killed", "SIGXCPU": "; CPU time limit",
                   "SIGSEGV": "; segmentation fault", "SIGABRT": "; aborted",
                   "SIGXFSZ": "; file size limit"}.get(name, "")
            return f"killed by {name}{why}"
        return f"exit code {code}"

    async def restart(self) -> None:
        """A fresh kernel process in the same working directory; all state is lost."""
        assert self._km is not None
        self.restarts += 1
        started = time.monotonic()
        if self._kc is not None:
            self._kc.stop_channels()
            self._kc = None
        self._note_group()
        if self._watch is not None:
            await self._watch.settled()  # the memory watchdog's sweep must be over first
        try:
            await self._km.restart_kernel(now=True)
            self._note_group()
            await self._connect()
        except Exception as exc:
            raise KernelError(f"could not restart the kernel: {exc}") from exc
        log.info("kernel restarted in %.2f s (%s)", time.monotonic() - started, self.workdir)

    async def interrupt(self) -> None:
        if self._km is not None:
            try:
                await self._km.interrupt_kernel()
            except Exception as exc:  # a dead kernel cannot be interrupted; restart handles it
                log.debug("interrupt: %s", exc)

    async def execute(self, code: str, *, timeout: float | None = None,
                      store_history: bool = True, caps: OutputCaps | None = None,
                      expressions: dict[str, str] | None = None) -> Execution:
        """Run code; never raises for what the code does (errors, hangs, death are recorded).

        `caps` overrides the session's output caps on the host side (cibench's own helper
        cells, run with store_history=False, are not capped in the kernel either).
        `expressions` (name -> Python expression) are evaluated by the kernel right after a
        cell that ran to the end, and come back in its execute_reply: `last_expressions`
        holds their raw results (IPython's user_expressions), else {}."""
        if self._kc is None:
            raise KernelError("kernel is not running")
        timeout = self.timeout if timeout is None else timeout
        kc = self._kc
        started = time.monotonic()
        self.last_expressions = {}
        self._send_seed(kc)
        msg_id = kc.execute(code, store_history=store_history, allow_stdin=False,
                            stop_on_error=False, user_expressions=expressions or {})
        collector = Collector(caps or self.caps, msg_id)
        idle, status, note = await self._follow(kc, collector, started, timeout)
        if idle and status in ("ok", "error"):
            status = await self._check_reply(kc, msg_id, status, collector)
        return self._execution(collector, status, note, started)

    async def _follow(self, kc: Any, collector: Collector, started: float,
                      timeout: float) -> tuple[bool, ExecStatus, str]:
        """Read the cell's iopub messages until it goes idle (True), or it outlives `timeout`
        (interrupted; restarted if the interrupt goes unanswered), or the kernel dies
        (restarted). Returns (idle, status, note)."""
        deadline = started + timeout
        grace = min(self.interrupt_grace, max(1.0, timeout))
        status: ExecStatus = "ok"
        note = ""
        interrupted_at: float | None = None
        while True:
            now = time.monotonic()
            if interrupted_at is None and now >= deadline:
                log.info("cell ran past %.0f s; interrupting", timeout)
                await self.interrupt()
                interrupted_at = now
                status, note = "timeout", f"interrupted after {timeout:g} s"
            if interrupted_at is not None and now - interrupted_at >= grace:
                if self._starting:
                    raise KernelError(f"the kernel's startup code ran past {timeout:g} s",
                                      hint="is --memory-limit too low?")
                await self.restart()
                return False, status, (f"no answer {grace:g} s after the interrupt at "
                                       f"{timeout:g} s; the kernel was restarted and its state "
                                       "was lost")
            wait = max(0.05, min(1.0, (deadline if interrupted_at is None
                                        else interrupted_at + grace) - now))
            try:
                msg = await kc.get_iopub_msg(timeout=wait)
            except queue.Empty:
                if not await self.is_alive():
                    return False, "died", await self._died()
                continue
            event = collector.handle(msg)
            if event == "idle":
                return True, status, note
            if event == "error" and status == "ok":
                status = "error"

    async def _died(self) -> str:
        """The note of a cell whose kernel died under it; the kernel is restarted."""
        reason = await self._exit_reason()
        if self._starting:
            raise KernelError(f"the kernel died while starting{f' ({reason})' if reason else ''}",
                              hint="is --memory-limit too low?") from None
        tree = self._watch.take() if self._watch is not None else ""
        reason = "; ".join(r for r in (reason, tree) if r)
        log.info("kernel died (%s); restarting", reason or "unknown cause")
        await self.restart()
        return (f"the kernel died{f' ({reason})' if reason else ''}; it was restarted and its "
                "state was lost")

    @staticmethod
    def _execution(collector: Collector, status: ExecStatus, note: str,
                   started: float) -> Execution:
        outputs, truncated = collector.finish()
        if status == "timeout" and not any(o["output_type"] == "error" for o in outputs):
            outputs.append({"output_type": "error", "ename": "TimeoutError",
                            "evalue": note, "traceback": [f"TimeoutError: {note}"]})
        if status == "died":
            outputs.append({"output_type": "error", "ename": "KernelDied", "evalue": note,
                            "traceback": [f"KernelDied: {note}"]})
        if collector.malformed:
            note = "; ".join(n for n in (note, f"{len(collector.malformed)} malformed kernel "
                                               "message(s) ignored") if n)
        return Execution(status=status, outputs=outputs, seconds=round(time.monotonic() - started, 3),
                         truncated=truncated, note=note)

    async def _check_reply(self, kc: Any, msg_id: str, status: ExecStatus,
                           collector: Collector) -> ExecStatus:
        """The cell's status as the shell channel's execute_reply says. Model code can silence
        what IPython *publishes* on iopub (patch `showtraceback`), but not the reply, which
        ipykernel builds from the exception itself; an extra reply the code sends itself
        cannot turn an error into success either (any error reply wins).

        Every reply is read up to a barrier: a kernel_info_request sent once the cell went idle.
        The kernel answers shell requests in order, so its reply comes after the cell's real
        execute_reply and after any the code forged while it ran (same socket, same order);
        its msg_id is unpredictable to model code. No fixed wait is needed."""
        replies = await self._replies_until_barrier(kc, msg_id)
        failed = [r for r in replies if r.get("status") != "ok"]
        if replies and not failed:
            # the kernel's own reply is the last before the barrier (a forged one comes earlier)
            found = replies[-1].get("user_expressions")
            self.last_expressions = found if isinstance(found, dict) else {}
            return status
        if status == "error" and collector.outputs and any(
                o["output_type"] == "error" for o in collector.outputs):
            return status
        reply = failed[0] if failed else {}
        ename = str(reply["ename"]) if isinstance(reply.get("ename"), str) else ""
        evalue = str(reply["evalue"]) if isinstance(reply.get("evalue"), str) else ""
        why = ("the kernel reported an error but published no traceback (was it silenced?)"
               if replies else f"no execute_reply within {REPLY_WAIT:g} s of the cell going idle")
        log.info("execute_reply: %s", why)
        collector.add_error(ename or "Error", evalue, [f"{clean_name(ename) or 'Error'}: "
                                                       f"{evalue}", f"[cibench: {why}]"])
        return "error"

    async def _replies_until_barrier(self, kc: Any, msg_id: str) -> list[dict[str, Any]]:
        """The contents of every shell reply to `msg_id`, read up to the kernel_info barrier
        (or REPLY_WAIT s, when the kernel does not answer it)."""
        barrier = kc.kernel_info()
        replies: list[dict[str, Any]] = []
        deadline = time.monotonic() + REPLY_WAIT
        while (wait := deadline - time.monotonic()) > 0:
            try:
                msg = await kc.get_shell_msg(timeout=wait)
            except queue.Empty:
                break
            parent = msg.get("parent_header") if isinstance(msg, dict) else None
            parent_id = parent.get("msg_id") if isinstance(parent, dict) else None
            if parent_id == barrier:
                break
            if parent_id is not None and parent_id == self._seed_msg:
                self._seed_msg = None
                if (msg.get("content") or {}).get("status") != "ok":
                    log.warning("reseeding the kernel failed: %s",
                                clean_name(str((msg.get("content") or {}).get("ename"))))
            if parent_id == msg_id:
                content = msg.get("content")
                replies.append(content if isinstance(content, dict) else {})
        return replies

    async def reseed(self, seed: int) -> None:
        """Seed random, numpy, torch and tensorflow (those already imported) with `seed`
        before the next `execute`.

        Done before every step's reference (ground truth) and before every attempt and
        reference run of a session, so random data depends only on the step number, not on
        how many times earlier code ran (oracle mode runs each step's code twice). The seeding
        request is sent just ahead of the next cell's, in the same batch: the kernel runs them
        in order, and no round trip is spent waiting for it (a failure is logged)."""
        self._seed = int(seed)

    def _send_seed(self, kc: Any) -> None:
        if self._seed is None:
            return
        self._seed_msg = kc.execute(RESEED_CODE.format(seed=self._seed), silent=True,
                                    store_history=False, allow_stdin=False, stop_on_error=False)
        self._seed = None
