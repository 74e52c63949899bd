"""Scoring end to end: the two profiles on scripted answers, run vs re-score, the report's
leaderboard, failure categories, pass@k with --samples, and the vision judge over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cibench.agents.base import AgentOptions, register_agent
from cibench.cli import main as cli_main
from cibench.report import build_report, render_markdown
from cibench.rescore import rescore
from cibench.rundir import collect_sessions
from cibench.runner import RunOptions, run_benchmark
from cibench.task import Step
from cibench.vis_judge import CACHE_FILE, parse_verdict

from conftest import write_task
from scripted import ScriptedAgent

pytestmark = pytest.mark.kernel

# A figure shown as a PNG through IPython.display: RGBA as matplotlib writes it, or flattened to
# RGB. Same pixels; CIBench's SSIM gives 0 on the channel mismatch, ours 1.
SETUP = """\
import io as _io
def show_fig(rgb=False):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from IPython.display import Image, display
    fig = plt.figure(figsize=(3, 2), dpi=50)
    plt.plot([1, 2, 3], [4, 5, 7])
    buf = _io.BytesIO()
    fig.savefig(buf, format='png')
    plt.close(fig)
    data = buf.getvalue()
    if rgb:
        from PIL import Image as P
        out = _io.BytesIO()
        P.open(_io.BytesIO(data)).convert('RGB').save(out, format='png')
        data = out.getvalue()
    display(Image(data=data))
"""

PROFILE_STEPS = [
    {"type": "num", "instruction": "How many rows?", "code": "print(15)"},
    {"type": "text", "instruction": "Describe the data set in Chinese.",
     "code": "print('数据集共有150行和5列。')"},
    {"type": "vis", "instruction": "Plot it.", "code": "show_fig()"},
    {"type": "exec", "instruction": "Set x.", "code": "x = 1"},
]
PROFILE_ANSWERS = {1: ["print(1599)"], 2: ["print('数据集有150行，5列')"],
                   3: ["show_fig(rgb=True)"]}


def _register(name: str, make: Callable[..., ScriptedAgent]) -> list[ScriptedAgent]:
    """Register `name`; `make(options)` builds each agent (one per run or sample)."""
    made: list[ScriptedAgent] = []

    def factory(model: str, options: Any) -> ScriptedAgent:
        agent = make(options)
        made.append(agent)
        return agent
    register_agent(name)(factory)
    return made


def _step_scores(out: Path) -> dict[tuple[str, int], dict[str, Any]]:
    return {(r.task.id, s.index): s.score.model_dump() for r in collect_sessions(out)
            for s in r.steps}


@pytest.fixture
def profile_task(tmp_path: Path) -> Path:
    return write_task(tmp_path / "tasks" / "prof", "profiles", PROFILE_STEPS, setup=[SETUP])


def test_profiles_differ_and_rescore_reproduces_run(profile_task: Path, tmp_path: Path) -> None:
    _register("scripted-profiles", lambda options: ScriptedAgent(PROFILE_ANSWERS, name="scripted-profiles", thought=""))
    oracle = tmp_path / "oracle"

    def run(scoring: str, out: Path) -> dict[str, Any]:
        return asyncio.run(run_benchmark(RunOptions(
            paths=[str(profile_task)], models=["scripted-profiles"], out=out, scoring=scoring,
            oracle_dir=oracle, jobs=1))).summary

    cib, dft = run("cibench", tmp_path / "c"), run("default", tmp_path / "d")
    mc, md = cib["results"][0]["metrics"], dft["results"][0]["metrics"]
    # "15" is a substring of "1599": CIBench counts it, numbers compared as numbers do not
    assert mc["num_acc"] == 100.0 and md["num_acc"] == 0.0
    # ROUGE-1 on the default tokenizer keeps only "150" and "5"; CJK-aware ROUGE-L: 8/9
    assert mc["text_score"] == 100.0 and md["text_score"] == pytest.approx(88.89, abs=0.01)
    # same pixels, RGBA reference vs RGB answer: per-channel SSIM fails -> 0; ours flattens -> 1
    assert mc["vis_score"] == 0.0 and md["vis_score"] == 100.0
    assert cib["results"][0]["scoring"] == "cibench" and dft["results"][0]["scoring"] == "default"
    assert dft["results"][0]["failures"] == {"wrong answer": 1}
    assert cib["results"][0]["failures"] == {"wrong answer": 1}  # the vis step there

    # `cibench score --scoring cibench` on the cibench run changes nothing, byte for byte
    before_scores = _step_scores(tmp_path / "c")
    before_summary = json.loads((tmp_path / "c" / "summary.json").read_text())
    assert cli_main(["-q", "score", str(tmp_path / "c"), "--scoring", "cibench",
                     "--oracle-dir", str(oracle)]) == 0
    assert _step_scores(tmp_path / "c") == before_scores
    assert json.loads((tmp_path / "c" / "summary.json").read_text()) == before_summary

    # re-scoring the default run under `cibench` gives exactly what `run --scoring cibench` wrote
    assert cli_main(["-q", "score", str(tmp_path / "d"), "--scoring", "cibench",
                     "--oracle-dir", str(oracle)]) == 0
    assert _step_scores(tmp_path / "d") == before_scores
    rescored = json.loads((tmp_path / "d" / "summary.json").read_text())["results"][0]
    assert rescored["metrics"] == mc and rescored["failures"] == cib["results"][0]["failures"]
    assert json.loads((tmp_path / "d" / "run.json").read_text())["scoring"] == "cibench"
    # the run's own summary is kept beside the new one
    kept = json.loads((tmp_path / "d" / "summary.previous.json").read_text())["results"][0]
    assert kept["scoring"] == "default" and kept["metrics"] == md
    # and back
    asyncio.run(rescore(tmp_path / "d", oracle, "default"))
    assert json.loads((tmp_path / "d" / "summary.json").read_text())["results"][0]["metrics"] == md


def test_report_leaderboard_avg_over_both_modes(profile_task: Path, tmp_path: Path) -> None:
    _register("scripted-board", lambda options: ScriptedAgent(PROFILE_ANSWERS, name="scripted-board", thought=""))
    oracle = tmp_path / "oracle"
    outs = {}
    for mode in ("e2e", "oracle"):
        outs[mode] = tmp_path / mode
        asyncio.run(run_benchmark(RunOptions(
            paths=[str(profile_task)], models=["scripted-board"], mode=mode, out=outs[mode],
            scoring="default", oracle_dir=oracle, jobs=1)))
    report_base = tmp_path / "rep" / "report"
    assert cli_main(["-q", "report", str(outs["e2e"]), str(outs["oracle"]),
                     "--out", str(report_base)]) == 0
    report = json.loads((report_base / "report.json").read_text())
    assert report == json.loads(json.dumps(build_report([outs["e2e"], outs["oracle"]])))
    (entry,) = report["leaderboard"]
    assert entry["model"] == "scripted-board" and entry["modes"] == ["e2e", "oracle"]
    parts = [entry[f"{p}-{m}"] for p in "EO" for m in ("Num", "Text", "Vis")]
    assert parts == [0.0, 88.89, 100.0, 0.0, 88.89, 100.0]
    assert entry["Avg"] == round(sum(parts) / 6, 2) == 62.96
    assert entry["E-Tool"] == entry["O-Tool"] == 100.0
    rows = {r["mode"]: r for r in report["rows"]}
    assert rows["e2e"]["by_step_type"]["num"] == {**rows["e2e"]["by_step_type"]["num"],
                                                   "steps": 1, "num_acc": 0.0}
    assert rows["e2e"]["by_module"]["pandas"]["steps"] == 4
    assert rows["oracle"]["failures"] == {"wrong answer": 1}
    md = (report_base / "report.md").read_text()
    assert md == render_markdown(report)
    assert "| scripted-board | default | 100.0 | 100.0 | 0.0 | 88.9 | 100.0 |" in md
    assert "| 63.0 |" in md and "### Failures" in md


FAILURE_STEPS = [
    {"type": "num", "instruction": "no code", "code": "print(1)"},
    {"type": "num", "instruction": "syntax", "code": "print(2)"},
    {"type": "num", "instruction": "runtime", "code": "print(3)"},
    {"type": "num", "instruction": "timeout", "code": "print(4)"},
    {"type": "num", "instruction": "died", "code": "print(5)"},
    {"type": "num", "instruction": "wrong", "code": "print(6)"},
    {"type": "vis", "instruction": "no figure", "code": "show_fig()"},
    {"type": "num", "instruction": "no number", "code": "print(8)"},
    {"type": "check", "instruction": "check", "code": "y = 9",
     "checks": ["assert y == 9"]},
    {"type": "num", "instruction": "right", "code": "print(10)"},
]
FAILURE_ANSWERS = {1: [None], 2: ["print(2"], 3: ["1/0"],
                   4: ["import time\ntime.sleep(60)"], 5: ["import os\nos._exit(1)"],
                   6: ["print(66)"], 7: ["z = 7"], 8: ["z = 8"], 9: ["y = 0"]}


def test_every_failure_category_is_produced_and_counted(tmp_path: Path) -> None:
    path = write_task(tmp_path / "tasks" / "fail", "failures", FAILURE_STEPS, setup=[SETUP])
    _register("scripted-failures", lambda options: ScriptedAgent(FAILURE_ANSWERS, name="scripted-failures", thought=""))
    out, oracle = tmp_path / "run", tmp_path / "oracle"
    result = asyncio.run(run_benchmark(RunOptions(
        paths=[str(path)], models=["scripted-failures"], out=out, oracle_dir=oracle,
        attempts=1, timeout=2.0, jobs=1)))
    (record,) = collect_sessions(out)
    got = [s.score.failure for s in record.steps]
    assert got == ["no code", "syntax error", "runtime error: ZeroDivisionError", "timeout",
                   "kernel died", "wrong answer", "missing output: no figure",
                   "missing output: no number", "check failed", None]
    expected = {"no code": 1, "syntax error": 1, "runtime error: ZeroDivisionError": 1,
                "timeout": 1, "kernel died": 1, "wrong answer": 1,
                "missing output: no figure": 1, "missing output: no number": 1,
                "check failed": 1}
    assert result.summary["results"][0]["failures"] == expected
    report = build_report([out])
    assert report["rows"][0]["failures"] == expected
    assert "| runtime error: ZeroDivisionError | 1 |" in render_markdown(report)
    # the cibench profile categorizes from the same record the same way, except that "6" is a
    # substring of "66", so its wrong answer passes there
    asyncio.run(rescore(out, oracle, "cibench"))
    cib = {k: v for k, v in expected.items() if k != "wrong answer"}
    assert json.loads((out / "summary.json").read_text())["results"][0]["failures"] == cib


def test_samples_pass_at_k_and_resume(tmp_path: Path) -> None:
    one = write_task(tmp_path / "tasks" / "s", "single", [
        {"type": "num", "instruction": "Print 7.", "code": "print(7)"}])
    two = write_task(tmp_path / "tasks" / "s", "double", [
        {"type": "num", "instruction": "Print 1.", "code": "print(1)"},
        {"type": "num", "instruction": "Print 2.", "code": "print(2)"}])
    # sample i (told by its seed, 100 + i - 1) is right on odd samples; on the 2-step task
    # sample 3 fails its second step only, so that task passes in sample 1 alone
    def make(options: Any) -> ScriptedAgent:
        i = options.seed - 99

        def answer(step: Step) -> list[str | None]:
            if i % 2 == 0:
                return ["print(0)"]
            if i == 3 and step.index == 2 and "Print 2" in step.instruction:
                return ["print(0)"]
            return [step.reference]
        return ScriptedAgent(answer, name="scripted-samples", thought="")
    made = _register("scripted-samples", make)
    out, oracle = tmp_path / "run", tmp_path / "oracle"
    opts = RunOptions(paths=[str(one), str(two)], models=["scripted-samples"], out=out,
                      oracle_dir=oracle, samples=3, jobs=2,
                      agent=AgentOptions(seed=100, temperature=0.8))
    summary = asyncio.run(run_benchmark(opts)).summary
    row = summary["results"][0]
    # single: 2 of 3 samples pass -> pass@1 2/3, pass@3 1; double: 1 of 3 -> 1/3 and 1
    assert row["samples"] == 3 and row["tasks"] == 2 and row["sessions"] == 6
    assert row["pass_at_k"] == {"pass@1": 50.0, "pass@3": 100.0}
    assert row["steps"] == 9
    names = sorted(p.name for p in (out / "scripted-samples" / "s").glob("*.ipynb"))
    assert names == [f"{t}.sample-{i}.ipynb" for t in ("double", "single") for i in (1, 2, 3)]
    records = collect_sessions(out)
    assert sorted(r.run.params.sample for r in records) == [1, 1, 2, 2, 3, 3]
    assert sorted(r.run.params.seed for r in records) == [100, 100, 101, 101, 102, 102]
    assert json.loads((out / "run.json").read_text())["samples"] == 3
    # resume: nothing is asked again
    calls = sum(a.calls for a in made)
    again = asyncio.run(run_benchmark(opts)).summary
    assert sum(a.calls for a in made) == calls
    assert again["results"][0]["pass_at_k"] == row["pass_at_k"]
    # re-scoring keeps pass@k, and the report shows it
    asyncio.run(rescore(out, oracle))
    assert json.loads((out / "summary.json").read_text())["results"][0]["pass_at_k"] == \
        row["pass_at_k"]
    report = build_report([out])
    assert report["rows"][0]["pass_at_k"] == row["pass_at_k"]
    assert "3 samples per task: pass@1 50.0, pass@3 100.0" in render_markdown(report)


@pytest.mark.parametrize("text,variant,expected", [
    ("7", "rubric", 0.7), ("Score: 10", "rubric", 1.0),
    ("I rate it 3/10... final: 4", "rubric", 0.4),
    ("11", "rubric", None), ("0", "rubric", None), ("great!", "rubric", None),
    ("right", "binary", 1.0), ("Wrong.", "binary", 0.0), ("The answer is right", "binary", 1.0),
    ("maybe", "binary", None)])
def test_parse_verdict(text: str, variant: str, expected: float | None) -> None:
    assert parse_verdict(text, variant) == expected


def test_vis_judge_through_litellm_and_cache(profile_task: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from openai_server import ScriptedServer

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    _register("scripted-judged", lambda options: ScriptedAgent(PROFILE_ANSWERS, name="scripted-judged", thought=""))
    out, oracle = tmp_path / "run", tmp_path / "oracle"
    with ScriptedServer() as server:
        server.responder = lambda body: {"content": "7"}
        judge = {"model": "openai/judge", "variant": "rubric", "api_base": server.api_base,
                 "api_key_env": None}
        summary = asyncio.run(run_benchmark(RunOptions(
            paths=[str(profile_task)], models=["scripted-judged"], out=out, oracle_dir=oracle,
            jobs=1, vis_judge=judge))).summary
        assert server.calls == 1
        body = server.requests[0]
        parts = body["messages"][0]["content"]
        assert body["model"] == "judge"
        assert "Plot it." in parts[0]["text"] and "1 to 10" in parts[0]["text"]
        assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,iVBOR")
        assert summary["results"][0]["metrics"]["vis_judge_score"] == 70.0
        (record,) = collect_sessions(out)
        vis = record.steps[2]
        assert vis.score.vis_judge == 0.7 and "vis judge 7/10" in vis.score.note
        assert all(s.score.vis_judge is None for s in record.steps if s.type != "vis")
        lines = (out / CACHE_FILE).read_text().splitlines()
        assert len(lines) == 1 and json.loads(lines[0])["answer"] == "7"

        # re-scoring asks the cache, not the server; the run's judge is kept
        assert cli_main(["-q", "score", str(out), "--oracle-dir", str(oracle)]) == 0
        assert server.calls == 1
        again = json.loads((out / "summary.json").read_text())["results"][0]["metrics"]
        assert again == summary["results"][0]["metrics"]

        # the right/wrong variant, as Qwen-Agent's, given at re-scoring time
        server.responder = lambda body: {"content": "wrong"}
        assert cli_main(["-q", "score", str(out), "--oracle-dir", str(oracle), "--vis-judge",
                         "openai/judge", "--vis-judge-variant", "binary",
                         "--vis-judge-api-base", server.api_base]) == 0
        assert server.calls == 2
        assert "right or wrong" in server.requests[1]["messages"][0]["content"][0]["text"]
        (record,) = collect_sessions(out)
        assert record.steps[2].score.vis_judge == 0.0
        assert record.run.params.vis_judge is not None and record.run.params.vis_judge.variant == "binary"

        # an unreadable answer leaves vis_judge empty and is not cached
        server.responder = lambda body: {"content": "a nice plot"}
        judge2 = {**judge, "model": "openai/judge2"}
        asyncio.run(rescore(out, oracle, vis_judge=judge2))
        (record,) = collect_sessions(out)
        assert record.steps[2].score.vis_judge is None
        assert "unreadable" in record.steps[2].score.note
        assert len((out / CACHE_FILE).read_text().splitlines()) == 2
