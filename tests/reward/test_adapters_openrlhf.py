"""The OpenRLHF adapter loaded and called as OpenRLHF does: ``reward_func`` from a ``--remote_rm_url`` .py file,
with queries decoded from prompt + response tokens with special tokens kept."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from longtracerl.reward import LongTraceReward, RewardConfig
from longtracerl.reward.adapters.openrlhf import extract_response, parse_label

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "openrlhf_reward.py"
RESPONSES = ["Paris, in France and Europe", "Paris", "Lyon, France, Europe", "Paris, France"]


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    from longtracerl.train.models import bundled_tokenizer

    return bundled_tokenizer()


def _load_reward_func() -> Any:  # openrlhf SingleTurnAgentExecutor / RemoteRewardModel loading
    spec = importlib.util.spec_from_file_location("reward_func", str(EXAMPLE))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reward_func


def _batch(tok: Any) -> tuple[list[str], list[str], list[str]]:
    prompt = tok.apply_chat_template([{"role": "user", "content": "Docs ... Which city?"}], tokenize=False,
                                     add_generation_prompt=True)
    prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    queries = []
    for r in RESPONSES:  # query = decode(prompt tokens + action tokens), special tokens kept
        action = tok(r, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        queries.append(tok.decode(prompt_ids + action, skip_special_tokens=False))
    label = json.dumps({"answer": "Paris", "rubrics": ["France", "Europe"], "question": "Which city?"})
    return queries, [prompt] * len(RESPONSES), [label] * len(RESPONSES)


def test_whole_group_in_one_call(tokenizer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LONGTRACERL_GROUP_SIZE", "4")
    queries, prompts, labels = _batch(tokenizer)
    assert queries[0].endswith(tokenizer.eos_token)
    out = _load_reward_func()(queries, prompts, labels)
    assert set(out) == {"rewards", "scores", "extra_logs"} and isinstance(out["rewards"], torch.Tensor)
    expected = LongTraceReward(RewardConfig()).score_group(RESPONSES, "Paris", ["France", "Europe"], question="Which city?")
    assert out["rewards"].tolist() == pytest.approx([r.reward for r in expected])
    assert out["rewards"].tolist() == pytest.approx([1.0, 0.7, 0.0, 0.85])
    assert out["extra_logs"]["longtrace_outcome"].tolist() == [1.0, 1.0, 0.0, 1.0]


def test_one_sample_calls_are_not_normalized_on_their_own(tokenizer: Any) -> None:
    # Recent OpenRLHF calls reward_func one sample at a time: a group of one must not be normalized to 1.0.
    queries, prompts, labels = _batch(tokenizer)
    reward_func = _load_reward_func()
    single = [float(reward_func([q], [p], [lab])["rewards"][0]) for q, p, lab in zip(queries, prompts, labels, strict=True)]
    assert single == pytest.approx([1.0, 0.7, 0.0, 0.85])  # raw rubric 1.0, 0, -, 0.5: positive-only, unnormalized


def test_plain_answer_label_is_outcome_only(tokenizer: Any) -> None:
    queries, prompts, _ = _batch(tokenizer)
    out = _load_reward_func()(queries, prompts, ["Paris"] * 4)
    assert out["rewards"].tolist() == pytest.approx([1.0, 1.0, 0.0, 1.0])  # no rubrics: the outcome alone
    assert parse_label("Paris") == ("Paris", [], "")
    with pytest.raises(ValueError, match="answer"):
        parse_label('{"rubrics": ["x"]}')


def test_extract_response_strips_prompt_and_end_tokens() -> None:
    assert extract_response("<pad><pad>PROMPT: hi<|im_end|>answer text<|im_end|><|endoftext|>", "PROMPT: hi<|im_end|>") == "answer text"
    assert extract_response("no prompt here", "PROMPT") == "no prompt here"
