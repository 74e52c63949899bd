"""Shared pieces of the benchmarks: machine facts, RESULTS.md sections, running cibench in a
subprocess (the worktree's code: `sys.executable -m cibench` with the repository on PYTHONPATH),
the fixed-latency OpenAI-compatible server, and generated suites of small tasks.

Not part of cibench and not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nbformat

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS = BENCH_DIR / "RESULTS.md"
if str(REPO) not in sys.path:  # the worktree's cibench and tests/openai_server.py
    sys.path.insert(0, str(REPO))

from tests.openai_server import ScriptedServer  # noqa: E402

SECTIONS = ["overhead", "profile", "throughput", "memory", "ray"]  # their order in RESULTS.md
SECTION_RE = re.compile(r"(?:\n*)(<!-- begin (\w+) -->.*?<!-- end \2 -->)", re.S)
RESULTS_HEAD = """# cibench benchmarks: results

Written by the scripts in this folder (see README.md); each script replaces its own section.
Sections marked **quick** come from `--quick` runs (small sizes, on a busy shared machine): they
show that the script works, not what cibench can do.
"""


# ------------------------------------------------------------------------------ machine, date

def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True,
                              text=True).stdout.strip()
    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", "cibench"))
    return commit + (" (cibench/ modified)" if dirty else "")


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM, OS, Python, cibench commit, date, load: what a figure depends on."""
    return {"cpu": _cpu_model(), "cores": os.cpu_count(), "ram_gib": _ram_gib(),
            "os": platform.platform(), "python": platform.python_version(),
            "cibench_commit": git_commit(),
            "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_avg_1m_at_start": round(os.getloadavg()[0], 2)}


def command_line() -> str:
    """The exact command that ran this benchmark."""
    return shlex.join([Path(sys.executable).name, *sys.argv])


# ------------------------------------------------------------------------------ results

def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (also readable as the printed table)."""
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
        return "–" if value is None else str(value)
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name: str, title: str, body: str, data: dict[str, Any], quick: bool) -> None:
    """Replace section `name` of RESULTS.md (keeping the others) and write `name.json` beside it."""
    info = data.setdefault("machine", machine())
    data.setdefault("command", command_line())
    data["quick"] = quick
    (BENCH_DIR / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    mark = " — **quick, preliminary**" if quick else ""
    text = (f"## {title}{mark}\n\n"
            f"- command: `{data['command']}` (in the repository root, `PYTHONPATH=.`)\n"
            f"- date: {info['date_utc']}; cibench commit {info['cibench_commit']}\n"
            f"- machine: {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB RAM, "
            f"{info['os']}, Python {info['python']}; load average at start "
            f"{info['load_avg_1m_at_start']}\n"
            f"- figures also in `benchmarks/{name}.json`\n\n{body.strip()}\n")
    old = RESULTS.read_text() if RESULTS.exists() else RESULTS_HEAD
    blocks = {key: block for block, key in SECTION_RE.findall(old)}
    blocks[name] = f"<!-- begin {name} -->\n{text}<!-- end {name} -->"
    head = SECTION_RE.sub("", old).rstrip("\n")
    ordered = sorted(blocks, key=lambda k: SECTIONS.index(k) if k in SECTIONS else len(SECTIONS))
    RESULTS.write_text(head + "\n\n" + "\n\n".join(blocks[k] for k in ordered) + "\n")
    print(f"results: {RESULTS} (section {name}), {BENCH_DIR / (name + '.json')}")


# ------------------------------------------------------------------------------ running cibench

def cibench_env(**extra: str) -> dict[str, str]:
    """The environment of a cibench subprocess: this worktree's code first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def cibench_cmd(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "cibench", *map(str, args)]


def run_cibench(args: Sequence[str | Path], log: Path, env: dict[str, str] | None = None,
                check: bool = True) -> tuple[float, int]:
    """Run `cibench ARGS` to completion (output to `log`); (wall seconds, exit status)."""
    cmd = cibench_cmd(*args)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        out.write("$ " + shlex.join(cmd) + "\n")
        out.flush()
        started = time.perf_counter()
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
                              env=env or cibench_env())
        seconds = time.perf_counter() - started
    if check and proc.returncode != 0:
        sys.exit(f"benchmark: `cibench {' '.join(map(str, args))[:120]}` exited "
                 f"{proc.returncode}; see {log}")
    return seconds, proc.returncode


def summary_row(run_dir: Path) -> dict[str, Any]:
    """The first result row of a run's summary.json: `errors` = sessions in an infrastructure
    error, `failed_steps` = steps that failed (wrong answer, error, ...)."""
    summary = json.loads((run_dir / "summary.json").read_text())
    row = summary["results"][0]
    failures = row.get("failures") or {}
    return {"tasks": row["tasks"], "steps": row["steps"], "errors": len(row["errors"]),
            "failed_steps": sum(v for v in failures.values() if isinstance(v, int)),
            "exec_rate": row["metrics"].get("exec_rate"), "num_acc": row["metrics"].get("num_acc"),
            "failures": failures}


def has_run_flag(flag: str) -> bool:
    """Whether this cibench's `run` command knows `flag`."""
    out = subprocess.run(cibench_cmd("run", "--help"), capture_output=True, text=True,
                         env=cibench_env(), cwd=REPO).stdout
    return re.search(rf"(^|\s){re.escape(flag)}\b", out) is not None


# ------------------------------------------------------------------------------ latency server

CODE_RE = re.compile(r"`([^`]+)`")


def _last_instruction(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, str) \
                and not content.startswith("Response:"):
            return content
    return ""


class LatencyServer:
    """The scripted OpenAI-compatible server of tests/openai_server.py on 127.0.0.1, answering
    every request after `latency` seconds, in the `react` format, with the code the last
    instruction quotes in backticks (the generated tasks say "Run `CODE`."). Each request is
    served in its own thread, so requests in flight overlap as with a real server."""

    def __init__(self, latency: float = 0.5):
        self.latency = latency
        self.server = ScriptedServer()
        self.server.responder = self.answer
        self.in_flight = 0
        self.peak_in_flight = 0
        self.first_request: float | None = None  # perf_counter of the first request of a run
        self.last_answer: float | None = None  # and of its last answer
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Start counting a new run (peak in flight, first request, last answer)."""
        with self._lock:
            self.peak_in_flight, self.first_request, self.last_answer = 0, None, None

    def model_span(self) -> float | None:
        """Seconds from the run's first request to its last answer."""
        if self.first_request is None or self.last_answer is None:
            return None
        return round(self.last_answer - self.first_request, 3)

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            if self.first_request is None:
                self.first_request = time.perf_counter()
        try:
            time.sleep(self.latency)
        finally:
            with self._lock:
                self.in_flight -= 1
                self.last_answer = time.perf_counter()
        found = CODE_RE.findall(_last_instruction(body))
        code = found[-1] if found else "print('no code quoted')"
        return {"content": ("Thought: I run the code the step asks for.\n"
                            "Action: IPythonInterpreter\n"
                            f"Action Input: ```python\n{code}\n```")}

    @property
    def api_base(self) -> str:
        return self.server.api_base

    @property
    def calls(self) -> int:
        return self.server.calls

    def __enter__(self) -> LatencyServer:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()


def model_args(server: LatencyServer) -> list[str]:
    return ["--model", "openai/scripted", "--api-base", server.api_base]


def model_env() -> dict[str, str]:
    return cibench_env(OPENAI_API_KEY="sk-bench-not-a-key")


# ------------------------------------------------------------------------------ generated suites

def make_suite(folder: Path, copies: int, steps: int = 5, name: str = "latency") -> Path:
    """`copies` copies of a `steps`-step task as task notebooks in `folder/name/`. Each step's
    instruction quotes its code; copies differ in a constant so no two model calls are the same
    (the response cache never answers one from another)."""
    suite = folder / name
    suite.mkdir(parents=True, exist_ok=True)
    for copy in range(1, copies + 1):
        nb = nbformat.v4.new_notebook()
        nb.metadata["cibench"] = {
            "schema_version": 1, "title": f"Latency task, copy {copy}", "module": "python",
            "difficulty": "easy", "language": "en", "step_types": ["num"] * steps,
            "modules": ["math"] * steps}
        for step in range(1, steps + 1):
            code = f"x{step} = sum(range({copy * 1000 + step})); print(x{step})"
            nb.cells.append(nbformat.v4.new_markdown_cell(f"Step {step}: run `{code}`."))
            nb.cells.append(nbformat.v4.new_code_cell(code))
        nbformat.write(nb, suite / f"copy{copy:03d}.ipynb")
    return suite


def validate_suite(suite: Path, oracle: Path, log: Path) -> float:
    """Build the suite's ground truth (not counted in any timing); its wall seconds."""
    seconds, _ = run_cibench(["-q", "validate", suite, "--oracle-dir", oracle], log)
    return seconds
