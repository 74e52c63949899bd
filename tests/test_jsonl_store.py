"""The append-only JSONL store both paid-call caches use (cibench/jsonl_store.py)."""

from __future__ import annotations

from cibench.agents.cache import ResponseCache
from cibench.jsonl_store import JsonlStore
from cibench.vis_judge import CACHE_FILE, JudgeSettings, VisJudge


def test_a_torn_last_line_costs_nothing_but_itself(tmp_path):
    path = tmp_path / "c.jsonl"
    store = JsonlStore(path)
    store.put({"key": "a", "v": 1})
    with path.open("a") as fh:
        fh.write('{"key": "b", "v"')  # killed mid-write
    store = JsonlStore(path)
    assert store.unreadable == 1 and store.get("a") == {"key": "a", "v": 1}
    store.put({"key": "c", "v": 3})  # must not glue onto the torn line
    again = JsonlStore(path)
    assert again.get("c") == {"key": "c", "v": 3} and again.get("a") and again.unreadable == 1


def test_the_judge_cache_keeps_the_entry_after_a_torn_line(tmp_path):
    """Regression: the judge cache appended right after a torn line, so the next verdict (a paid
    call) was lost on reload and paid for again."""
    judge = VisJudge(JudgeSettings(model="openai/judge"), tmp_path)
    judge.cache.put({"key": "k1", "score": 1.0})
    with (tmp_path / CACHE_FILE).open("a") as fh:
        fh.write('{"key": "k2", "sco')
    VisJudge(JudgeSettings(model="openai/judge"), tmp_path).cache.put({"key": "k3", "score": 0.5})
    reloaded = VisJudge(JudgeSettings(model="openai/judge"), tmp_path).cache
    assert reloaded.get("k3") == {"key": "k3", "score": 0.5} and reloaded.get("k1")


def test_response_cache_round_trip(tmp_path):
    cache = ResponseCache(tmp_path)
    cache.put("k", "m", {"content": "hi"}, {"tokens_in": 1})
    assert ResponseCache(tmp_path).get("k")["reply"] == {"content": "hi"}
