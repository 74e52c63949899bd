"""`RunConfig.params` is typed (records.RunParams) and written exactly as the free-form dict it
replaced: session notebooks recorded before read back, and write out, unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from cibench.records import RunConfig, RunParams, VisJudgeParams

GOLDEN = Path(__file__).parent / "golden"
JUDGE = {"model": "gpt-4o", "variant": "binary", "api_base": None, "api_key_env": "JUDGE_KEY"}
#: what runner._run_model wrote before RunParams: model args at the top level, sample keys only
#: in a --samples run, vis_judge only with --vis-judge
OLD = {"temperature": 0.7, "max_tokens": 256, "seed": 101, "feedback_chars": 1024,
       "module_hint": False, "top_p": 0.9, "reasoning_effort": "low", "sample": 2, "samples": 3,
       "vis_judge": JUDGE}


def test_an_old_params_dict_reads_typed_and_writes_back_the_same() -> None:
    config = RunConfig(run_id="r", model="m", params=OLD)
    params = config.params
    assert (params.temperature, params.max_tokens, params.seed, params.module_hint) == (0.7, 256, 101, False)
    assert (params.sample, params.samples) == (2, 3)
    assert params.vis_judge == VisJudgeParams(**JUDGE)
    assert params.model_args == {"top_p": 0.9, "reasoning_effort": "low"}
    assert config.model_dump(mode="json")["params"] == OLD
    again = RunConfig.model_validate_json(config.model_dump_json())
    assert again == config


def test_only_the_keys_given_are_written() -> None:
    assert RunConfig(run_id="r", model="m").model_dump(mode="json")["params"] == {}
    plain = {"temperature": 0.0, "max_tokens": 512, "seed": None, "feedback_chars": 1024,
             "module_hint": True}
    params = RunParams(**plain)
    assert params.model_dump(mode="json") == plain  # no sample, samples or vis_judge keys
    params.vis_judge = VisJudgeParams(model="judge")
    assert params.model_dump(mode="json")["vis_judge"]["variant"] == "rubric"


@pytest.mark.parametrize("golden", ["small-oracle-e2e.ipynb.json", "demo/iris-classifier.ipynb.json"])
def test_golden_sessions_keep_their_params(golden: str) -> None:
    run = json.loads((GOLDEN / golden).read_text())["metadata"]["cibench"]["run"]
    run["run_id"] = "r"
    assert RunConfig(**run).model_dump(mode="json")["params"] == run["params"]


def test_old_notebooks_read_by_attribute() -> None:
    params = RunConfig(run_id="r", model="m", params=OLD).params
    assert params.sample == 2 and params.model_args["top_p"] == 0.9
    assert RunParams(temperature=0.0).sample is None  # never given
    plain = RunParams(temperature=0.0)
    plain.vis_judge = VisJudgeParams.model_validate(JUDGE)  # what `cibench score --vis-judge` does
    assert plain.model_dump(mode="json")["vis_judge"] == VisJudgeParams(**JUDGE).model_dump(mode="json")


def test_a_bad_value_is_refused() -> None:
    with pytest.raises(ValidationError):
        RunParams(max_tokens="many")
    with pytest.raises(ValidationError):
        RunParams(temperature=0.0).sample = "first"  # type: ignore[assignment]
