"""Hidden check cells that read only files run in a fresh process instead of the session's kernel,
so nothing the model did to the kernel can make them pass (see `execute.run_check`)."""

from __future__ import annotations

import asyncio
import time

from .collector import Collector
from .kernel import KernelSession
from .kernel_env import kernel_python
from .limits import scrubbed_environment
from .records import ExecStatus, Execution
from .sandbox import kill_group


async def run_detached(kernel: KernelSession, code: str, *, timeout: float = 60.0) -> Execution:
    """Run `code` with `python -c` in a fresh process instead of `kernel`: the kernel's
    Python, folder, environment, uid and limits, none of its state. Everything the process
    starts is killed when it ends (its own process group; as a session uid, the reap)."""
    box = kernel.sandbox
    limits = kernel.limits.prlimit_prefix()
    cmd = [*kernel.cmd_prefix, *(box.prefix(limits) if box else limits),
           kernel_python(), "-I", "-c", code]
    env = scrubbed_environment(secret_names=kernel.secret_env)
    if box is not None:
        env = box.environment(env)
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *cmd, cwd=str(kernel.workdir), env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        start_new_session=True)
    status: ExecStatus = "ok"
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        status, out, err = "timeout", b"", f"interrupted after {timeout:g} s".encode()
    finally:
        await asyncio.to_thread(kill_group, proc.pid, 1.0)
        if proc.returncode is None:
            await proc.wait()
    if status == "ok" and proc.returncode != 0:
        status = "error"
    collector = Collector(kernel.caps)
    if out:
        collector.stream("stdout", out.decode(errors="replace"))
    text = err.decode(errors="replace")
    if status == "error":
        lines = [ln for ln in text.splitlines() if ln.strip()] or [f"exit status {proc.returncode}"]
        last = lines[-1]
        ename, _, evalue = last.partition(": ") if ": " in last else (last, "", "")
        collector.add_error(ename.strip() or "Error", evalue.strip(), lines[-20:])
    elif status == "timeout":
        collector.add_error("TimeoutError", text, [f"TimeoutError: {text}"])
    outputs, truncated = collector.finish()
    return Execution(status=status, outputs=outputs, truncated=truncated,
                     seconds=round(time.monotonic() - started, 3),
                     note="run in a fresh process (the check reads files only)")
