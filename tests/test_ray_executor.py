"""`--executor ray` on a local Ray instance (one per module): the same summary as a local run,
resume across executors in both directions, the response cache of a remote model coming back
into the run folder (and replayed by a resumed run), and the failures that must not stop a run
(a worker killed mid-session) or must be refused up front (the embedded model).

Real kernels in real Ray workers; the model is the scripted OpenAI-compatible server on
127.0.0.1 (tests/openai_server.py), which the workers reach like any remote model.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import ray  # part of `.[test]`: this module runs in CI, it never skips

from cibench.agents import AgentOptions
from cibench.agents.cache import CACHE_FILE
from cibench.errors import ExecutorError
from cibench.notebook import read_session
from cibench.runner import RunOptions, run_benchmark

from conftest import SMALL_DATA, SMALL_STEPS, write_task
from openai_server import reply

REPO = Path(__file__).resolve().parent.parent
MODEL = "openai/scripted"
pytestmark = [pytest.mark.kernel, pytest.mark.slow]


@pytest.fixture(scope="module")
def ray_instance():
    """One local Ray instance for the module; workers import this checkout of cibench."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=128 * 1024 * 1024,
             runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("suite") / "mini"
    write_task(folder, "full", SMALL_STEPS, data=SMALL_DATA)
    write_task(folder, "two", SMALL_STEPS[:2], data=SMALL_DATA)
    return folder


def opts(suite: Path, out: Path, executor: str, **kw: Any) -> RunOptions:
    return RunOptions(paths=[str(suite)], models=kw.pop("models", ["oracle"]), out=out,
                      oracle_dir=suite.parent / "oracle", jobs=kw.pop("jobs", 2), executor=executor,
                      **kw)


def comparable(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The summary rows without timings (which differ between any two runs)."""
    rows = []
    for row in summary["results"]:
        row = dict(row)
        usage = {k: v for k, v in row.pop("usage").items()
                 if k not in ("model_seconds", "kernel_seconds")}
        rows.append({**row, "usage": usage})
    return rows


def mtimes(out: Path) -> dict[str, int]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.rglob("*.ipynb")}


@pytest.fixture(scope="module")
def runs(ray_instance, suite, tmp_path_factory) -> dict[str, Path]:
    """The same suite run locally and on Ray (oracle agent)."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for executor in ("local", "ray"):
        result = asyncio.run(run_benchmark(opts(suite, root / executor, executor)))
        assert result.errors == 0, result.summary
        out[executor] = root / executor
    return out


# --------------------------------------------------------------------------------------------
# refusals that need no Ray instance (run first: they must not depend on one)

def test_embedded_model_is_refused_before_anything_starts(suite, tmp_path):
    with pytest.raises(ExecutorError, match="embedded model") as info:
        asyncio.run(run_benchmark(opts(suite, tmp_path / "out", "ray", models=["local"])))
    assert "--api-base" in str(info.value)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_ray_missing_is_one_line_with_the_install_hint(suite, tmp_path, monkeypatch):
    from cibench import ray_executor

    monkeypatch.setattr(ray_executor.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ExecutorError, match=r"Ray is not installed \(pip install 'cibench\[ray\]'\)"):
        asyncio.run(run_benchmark(opts(suite, tmp_path / "out", "ray")))
    assert not (tmp_path / "out").exists()


def test_sessions_ask_for_what_they_use(suite):
    from cibench.executor import SessionJob
    from cibench.limits import KernelLimits
    from cibench.ray_executor import session_resources
    from cibench.task import load_tasks
    from cibench.workspace import SessionSettings

    def job(model: str, memory_mb: int | None = None) -> SessionJob:
        return SessionJob(task=load_tasks([suite])[0], truth=None, config=None,  # type: ignore
                          model=model, agent_options=AgentOptions(),
                          settings=SessionSettings(limits=KernelLimits(memory_mb=memory_mb)))
    assert session_resources(job(MODEL)) == {"num_cpus": 0.25}  # waits on the model
    assert session_resources(job("oracle")) == {"num_cpus": 1.0}
    assert session_resources(job("answers:x.jsonl", 2048)) == {"num_cpus": 1.0,
                                                               "memory": 2048 * 2**20}


def test_an_unreachable_address_is_one_clear_error(suite, tmp_path):
    with pytest.raises(ExecutorError, match="--address ray://127.0.0.1:1: cannot connect"):
        asyncio.run(run_benchmark(opts(suite, tmp_path / "out", "ray",
                                       address="ray://127.0.0.1:1")))
    assert not ray.is_initialized()


# --------------------------------------------------------------------------------------------
# same results as a local run

def test_ray_run_gives_the_local_summary(runs):
    local_rows = comparable(json.loads((runs["local"] / "summary.json").read_text()))
    ray_rows = comparable(json.loads((runs["ray"] / "summary.json").read_text()))
    assert ray_rows == local_rows
    assert ray_rows[0]["tasks"] == 2 and ray_rows[0]["steps"] == 7
    for name in ("full", "two"):  # the notebooks record the client's task path and same scores
        a = read_session(runs["local"] / "oracle" / "mini" / f"{name}.ipynb")
        b = read_session(runs["ray"] / "oracle" / "mini" / f"{name}.ipynb")
        assert b.task == a.task and b.scores == a.scores and b.status == "complete"
        assert [s.score for s in b.steps] == [s.score for s in a.steps]


@pytest.mark.parametrize("first,then", [("local", "ray"), ("ray", "local")])
def test_resume_across_executors(runs, suite, tmp_path, first, then):
    out = tmp_path / "out"
    shutil.copytree(runs[first], out)
    redo = out / "oracle" / "mini" / "two.ipynb"
    redo.unlink()
    before = mtimes(out)
    result = asyncio.run(run_benchmark(opts(suite, out, then)))
    after = mtimes(out)
    assert set(after) == set(before) | {"oracle/mini/two.ipynb"}
    assert all(after[k] == v for k, v in before.items())  # only the deleted session ran again
    assert read_session(redo).status == "complete"
    assert comparable(result.summary) == comparable(
        json.loads((runs["local"] / "summary.json").read_text()))


def test_replayed_answers_are_shipped_and_score_as_locally(ray_instance, suite, tmp_path):
    """`answers:FILE`: the file travels with the sessions (workers need not see it)."""
    rows = [{"task": f"mini/{name}", "step": i, "attempt": 1, "reply": "", "code": step["code"]}
            for name, steps in (("full", SMALL_STEPS), ("two", SMALL_STEPS[:2]))
            for i, step in enumerate(steps, 1)]
    rows[1]["code"] = "int(df['a'].sum()) + 1"  # one wrong answer
    answers = tmp_path / "given" / "answers.jsonl"
    answers.parent.mkdir()
    answers.write_text("".join(json.dumps(r) + "\n" for r in rows))
    model = f"answers:{answers}@replayed"
    summaries = [asyncio.run(run_benchmark(opts(suite, tmp_path / ex, ex, models=[model])))
                 .summary for ex in ("local", "ray")]
    assert comparable(summaries[1]) == comparable(summaries[0])
    assert summaries[1]["results"][0]["metrics"]["num_acc"] == 50


# --------------------------------------------------------------------------------------------
# a remote model: its response cache comes back; a resumed run replays it

def react(code: str) -> dict[str, Any]:
    return reply(f"Thought: run it.\nAction: IPythonInterpreter\nAction Input: ```python\n"
                 f"{code}\n```")


def scripted(body: dict[str, Any]) -> dict[str, Any]:
    """The reference answer of whichever SMALL_STEPS instruction was asked last."""
    users = [m for m in body["messages"] if m["role"] == "user"]
    last = users[-1]["content"]
    for step in SMALL_STEPS:
        if step["instruction"] in last:
            return react(step["code"])
    raise AssertionError(f"unexpected prompt {last!r}")


def test_remote_model_cache_comes_back_and_is_replayed(ray_instance, suite, tmp_path,
                                                       openai_server):
    openai_server.responder = scripted
    agent = AgentOptions(api_base=openai_server.api_base)
    out = tmp_path / "llm"
    first = asyncio.run(run_benchmark(opts(suite, out, "ray", models=[MODEL], agent=agent)))
    assert first.errors == 0, first.summary
    calls = len(openai_server.requests)
    assert calls == 7  # one per step, each answered at its first attempt
    cache = out / "openai--scripted" / CACHE_FILE
    assert len(cache.read_text().splitlines()) == calls  # every paid call is in the run folder
    assert first.summary["results"][0]["metrics"]["num_acc"] == 100

    for notebook in out.rglob("*.ipynb"):
        notebook.unlink()
    again = asyncio.run(run_benchmark(opts(suite, out, "ray", models=[MODEL], agent=agent)))
    assert len(openai_server.requests) == calls  # replayed from the cache in the workers
    assert comparable(again.summary) == comparable(first.summary)
    assert len(cache.read_text().splitlines()) == calls


def test_a_dead_worker_ends_its_session_in_error_and_the_run_goes_on(ray_instance, tmp_path,
                                                                      openai_server):
    folder = tmp_path / "suite" / "crash"
    write_task(folder, "two", SMALL_STEPS[:2], data=SMALL_DATA)
    write_task(folder, "boom", [{"type": "exec", "instruction": "Say hi.", "code": "print('hi')"}])

    def killer(body: dict[str, Any]) -> dict[str, Any]:
        if "Say hi." in body["messages"][-1]["content"]:
            # the kernel's parent is the Ray worker (the session host) running the session
            return react("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)")
        return scripted(body)
    openai_server.responder = killer
    agent = AgentOptions(api_base=openai_server.api_base, cache=False)
    # --jobs 1: "boom" runs alone on its host (sessions sharing a host die with it)
    result = asyncio.run(run_benchmark(opts(folder, tmp_path / "dead", "ray", models=[MODEL],
                                            agent=agent, jobs=1)))
    row = result.summary["results"][0]
    assert result.errors == 1 and row["tasks"] == 1, row
    assert row["errors"][0]["task"] == "crash/boom"
    assert "ray worker failed" in row["errors"][0]["error"], row["errors"]


def test_the_cli_runs_on_ray_and_refuses_an_address_without_it(ray_instance, suite, tmp_path,
                                                                 capsys):
    from cibench.cli import main

    out = tmp_path / "cli"
    args = ["-q", "run", str(suite), "--model", "oracle", "--out", str(out), "--oracle-dir",
            str(suite.parent / "oracle"), "--no-report"]
    assert main([*args, "--executor", "ray", "--jobs", "2"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["results"][0]["tasks"] == 2 and summary["results"][0]["metrics"]["exec_rate"] == 100
    assert main([*args, "--address", "auto"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--address names a Ray cluster" in err[0] and "--executor ray" in err[0]
