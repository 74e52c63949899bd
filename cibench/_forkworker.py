"""The warm worker of the fast path (fastcheck.py). Standard library only: it is run as a script,
`python _forkworker.py [STARTUP_FILE]`, inside the same sandbox prefix as a session kernel.

It runs the kernel's startup code once (so `random`, `numpy` and the warning filters are loaded
and set), then answers one JSON request per stdin line with one JSON line on stdout. For each
request it forks a child that:
- becomes the leader of a new session and process group (`setsid`), so the worker can kill it
  and everything it started with one `killpg`;
- works in a fresh folder of its own (removed afterwards), stdin from /dev/null, file
  descriptors 1 and 2 on /dev/null (Python-level output is captured per cell);
- seeds `random` (and numpy, when loaded) with the step number, as the kernel's reseed does;
- runs the attempts in one namespace until one runs without error, then the check cells, and
  writes one result line per cell to a pipe.
The worker waits at most `timeout` seconds for each cell; a cell that takes longer, or a child
that dies, is recorded (`timeout`, `died`), the child's process group is killed, and the cells
left run in a new child. After every request the group is killed, so nothing a generation
started outlives its check, and nothing it changed (it lives in a copy-on-write fork of the
worker) reaches the next one.
"""

import ast
import io
import json
import os
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback

_WORKER_MAIN = None  # set by main(): only the worker process answers requests


def _run_cell(code, ns, text_limit):
    out, err = io.StringIO(), io.StringIO()
    sys.stdout, sys.stderr = out, err
    started = time.monotonic()
    result = None
    error = None
    try:
        tree = ast.parse(code, "<cell>", "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, "<cell>", "exec"), ns)
        if last is not None:
            value = eval(compile(last, "<cell>", "eval"), ns)
            if value is not None:
                result = repr(value)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a cell's error is data (SystemExit included, as IPython)
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next)  # not ours
        error = {"ename": type(exc).__name__, "evalue": str(exc), "traceback": tb[-6:]}
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    text, errtext = out.getvalue(), err.getvalue()
    truncated = len(text) > text_limit or len(errtext) > text_limit
    if error:
        error = {k: _clean(v) if isinstance(v, str) else [_clean(x) for x in v]
                 for k, v in error.items()}
    return {"status": "error" if error else "ok", "stdout": _clean(text[:text_limit]),
            "stderr": _clean(errtext[:text_limit]), "result": None if result is None
            else _clean(result[:text_limit]), "error": error, "truncated": truncated,
            "seconds": round(time.monotonic() - started, 4)}


def _clean(text):
    """Text that can be written as UTF-8 (lone surrogates a generation printed become '?')."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _child(items, start, write_fd, request):
    os.setsid()
    folder = tempfile.mkdtemp(prefix="check-", dir=request.get("root") or None)
    os.chdir(folder)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, write_fd)  # the worker's protocol pipes and anything else it holds
    os.closerange(write_fd + 1, 4096)
    import random
    random.seed(request.get("seed", 0))
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(request.get("seed", 0))
    ns = {"__name__": "__main__", "__builtins__": __builtins__}
    out = os.fdopen(write_fd, "w")
    i = start
    while i < len(items):
        res = _run_cell(items[i]["code"], ns, request.get("text_limit", 100_000))
        res["i"] = i
        out.write(json.dumps(res) + "\n")
        out.flush()
        i = _next(items, i, res["status"])
    out.close()
    os._exit(0)


def _next(items, i, status):
    """After cell i: the next attempt if it failed, else the first check."""
    if items[i]["kind"] == "attempt" and status == "ok":
        for j in range(i + 1, len(items)):
            if items[j]["kind"] == "check":
                return j
        return len(items)
    if items[i]["kind"] == "attempt" and status != "ok":
        return i + 1
    return i + 1


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def handle(request):
    items = request["items"]
    timeout = float(request.get("timeout", 3.0))
    results = []
    i = 0
    while i < len(items):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            os.close(read_fd)
            try:
                _child(items, i, write_fd, request)
            finally:
                os._exit(1)
        os.close(write_fd)
        buf = b""
        expected = i
        deadline = time.monotonic() + timeout
        broken = None
        while expected < len(items):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([read_fd], [], [], max(0.0, left))
            if not ready:
                broken = "timeout"
                break
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                broken = "died"
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                res = json.loads(line)
                results.append(res)
                expected = _next(items, res["i"], res["status"])
                deadline = time.monotonic() + timeout
        _kill_group(pid)
        _, status = os.waitpid(pid, 0)
        _kill_group(pid)  # what the child started and left behind in its group
        os.close(read_fd)
        if broken is None:
            break
        note = (f"interrupted after {timeout:g} s; the check's process group was killed"
                if broken == "timeout" else
                f"the process died ({_describe(status)}); its process group was killed")
        results.append({"i": expected, "status": broken, "stdout": "", "stderr": "",
                        "result": None, "error": None, "truncated": False,
                        "seconds": timeout if broken == "timeout" else 0.0, "note": note})
        i = _next(items, expected, broken)
    _cleanup(request.get("root"))
    return {"results": results}


def _describe(status):
    if os.WIFSIGNALED(status):
        try:
            return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
        except ValueError:
            return f"signal {os.WTERMSIG(status)}"
    return f"exit status {os.WEXITSTATUS(status)}"


def _cleanup(root):
    if not root:
        return
    for name in os.listdir(root):
        if name.startswith("check-"):
            path = os.path.join(root, name)
            for top, dirs, _files in os.walk(path):
                for d in dirs:
                    try:
                        os.chmod(os.path.join(top, d), 0o700)
                    except OSError:
                        pass
            shutil.rmtree(path, ignore_errors=True)


def main():
    if len(sys.argv) > 1 and sys.argv[1]:
        with open(sys.argv[1], encoding="utf-8") as fh:
            exec(compile(fh.read(), sys.argv[1], "exec"), {"__name__": "__cibench_startup__"})
    proto = os.fdopen(os.dup(1), "w")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 1)  # nothing but the protocol may reach the parent's pipe
    sys.stdout = open(os.devnull, "w")
    proto.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    proto.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = handle(json.loads(line))
        except Exception as exc:  # a bug here must not hang the parent
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        proto.write(json.dumps(reply) + "\n")
        proto.flush()


if __name__ == "__main__":
    main()
