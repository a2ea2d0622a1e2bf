"""The TRL adapter inside a REAL GRPOTrainer step (CPU, tiny random Llama with the SmolLM2 tokenizer)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")

from longtracerl.reward import RewardConfig  # noqa: E402
from longtracerl.reward.adapters._common import message_text  # noqa: E402
from longtracerl.reward.adapters.trl import LongTraceTRLReward  # noqa: E402

EXAMPLES = [
    {"q": "Which capital lies on the river in France?", "label": "Paris", "rubrics": ["France", "Europe"]},
    {"q": "Which continent holds France?", "label": "Europe", "rubrics": ["France", "river"]},
]


def _write_jsonl(path: Path) -> Path:
    with path.open("w") as f:
        for ex in EXAMPLES:
            f.write(json.dumps({
                "source": "longqa",
                "input_messages": [{"role": "user", "content": f"Documents: ...\n\n{ex['q']}"}],
                "label": ex["label"],
                "metadata": {"extra_reward_info": {"question": ex["q"], "rubrics": ex["rubrics"],
                                                   "dataset_name": "longqa"}},
            }) + "\n")
    return path


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    from longtracerl.train.models import bundled_tokenizer

    return bundled_tokenizer()


class Recorder:
    """Wraps the adapter to record exactly what TRL passed and what the adapter returned."""

    def __init__(self, inner: LongTraceTRLReward) -> None:
        self.inner = inner
        self.__name__ = inner.__name__
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> list[float]:
        out = self.inner(**kwargs)
        self.calls.append({**kwargs, "returned": out})
        return out


def test_reward_inside_real_grpo_step(tmp_path: Path, tokenizer: Any) -> None:
    from trl import GRPOConfig, GRPOTrainer

    from longtracerl.train.models import tiny_random_llama
    from longtracerl.train.trl_grpo import load_dataset

    g = 4
    model = tiny_random_llama(tokenizer)
    cfg = RewardConfig()
    recorder = Recorder(LongTraceTRLReward.for_model(model, tokenizer, cfg, num_generations=g))
    # The random model would never say the answer; a logit bias on the answer/entity/EOS tokens (a real
    # generation option, not a fake) makes completions that are correct, partly correct, wrong or cut off.
    bias = {" Paris": 12.0, " Europe": 11.0, " France": 11.0, " river": 10.0, tokenizer.eos_token: 11.0}
    seq_bias = [[tokenizer.encode(w, add_special_tokens=False), b] for w, b in bias.items()]
    args = GRPOConfig(
        output_dir=str(tmp_path / "out"), use_cpu=True, bf16=False, save_strategy="no", max_steps=1,
        num_generations=g, per_device_train_batch_size=2 * g, max_completion_length=12, report_to=[],
        logging_steps=1, seed=3, generation_kwargs={"sequence_bias": seq_bias},
    )
    trainer = GRPOTrainer(model=model, reward_funcs=[recorder], args=args,
                          train_dataset=load_dataset(_write_jsonl(tmp_path / "d.jsonl")), processing_class=tokenizer)
    trainer.train()

    assert recorder.calls, "GRPOTrainer never called the reward"
    print([message_text(c) for c in recorder.calls[0]["completions"]])
    eos = {tokenizer.eos_token_id, tokenizer.pad_token_id}
    all_returned: list[float] = []
    for call in recorder.calls:
        n = len(call["completions"])
        assert n % g == 0 and set(call) >= {"prompts", "completion_ids", "label", "rubrics", "question", "trainer_state"}
        for s in range(0, n, g):
            block = slice(s, s + g)
            assert len({json.dumps(p) for p in call["prompts"][block]}) == 1  # one prompt per group of G
            # what the paper's rules say of each completion, without the reward core as an oracle (exact
            # values by hand are in test_rewards_computed_by_hand): a cut-off completion (no EOS at the end) or
            # one without the gold answer earns 0; a correct one earns 0.7 plus at most 0.3 of rubric
            for text, ids, r in zip([message_text(c) for c in call["completions"][block]],
                                    call["completion_ids"][block], call["returned"][block], strict=True):
                if ids[-1] not in eos or call["label"][s].lower() not in text.lower():
                    assert r == 0.0, (text, r)
                else:
                    assert 0.7 - 1e-6 <= r <= 1.0 + 1e-6, (text, r)
        all_returned += call["returned"]
    # What TRL logged is what the adapter returned, and the bias made the rewards informative.
    assert list(trainer._logs["rewards"]["longtrace"])[-len(all_returned):] == pytest.approx(all_returned)
    logged = [h for h in trainer.state.log_history if "rewards/longtrace/mean" in h]
    assert logged and logged[0]["rewards/longtrace/mean"] == pytest.approx(sum(all_returned) / len(all_returned), abs=1e-5)
    assert max(all_returned) > 0.7, all_returned


def test_rewards_computed_by_hand() -> None:
    """Two groups of 4 through the adapter as TRL calls it; every expected value worked out by hand (paper
    defaults: contains rule, word-mode rubric on the final answer only, group max over ALL G, positive-only,
    eta 0.3, truncated or empty -> 0)."""
    reward = LongTraceTRLReward(num_generations=4, eos_token_ids=[2])
    prompts = ["p1"] * 4 + ["p2"] * 4
    completions = [
        "<think>France Europe Seine</think>Paris",  # correct; entities only in the reasoning: rubric 0/3
        "Paris, in France, Europe",  # correct; rubric 2/3
        "Lyon, France, Europe, Seine",  # wrong; rubric 3/3 = the group max 1.0
        "Paris, France",  # cut off (no EOS at the end): 0
        "Rome",  # correct; rubric 0/2
        "Rome, Italy",  # correct; rubric 1/2 = the group max 0.5
        "",  # empty answer: 0
        "Milan",  # wrong
    ]
    ids = [[5, 2]] * 3 + [[5, 6]] + [[5, 2]] * 4
    labels = ["Paris"] * 4 + ["Rome"] * 4
    rubrics = [["France", "Europe", "Seine"]] * 4 + [["Italy", "Tiber"]] * 4
    out = reward(prompts=prompts, completions=completions, completion_ids=ids, label=labels, rubrics=rubrics,
                 question=["q"] * 8)
    assert out == pytest.approx([
        0.7 + 0.3 * 0.0,  # 0.7
        0.7 + 0.3 * (2 / 3) / 1.0,  # 0.9: normalized by the wrong answer's 3/3
        0.0,  # positive-only: a wrong answer earns nothing for its entities
        0.0,
        0.7 + 0.3 * 0.0 / 0.5,  # 0.7
        0.7 + 0.3 * 0.5 / 0.5,  # 1.0
        0.0,
        0.0,
    ])


def test_misaligned_groups_fail_loudly() -> None:
    reward = LongTraceTRLReward(num_generations=2)
    prompts = [[{"role": "user", "content": "a"}], [{"role": "user", "content": "b"}]] * 2
    with pytest.raises(ValueError, match="consecutive groups"):
        reward(prompts=prompts, completions=["Paris"] * 4, completion_ids=[[1]] * 4, label=["Paris"] * 4,
               rubrics=[["France"]] * 4, question=["q"] * 4)


def test_group_normalization_uses_exactly_one_prompts_completions() -> None:
    reward = LongTraceTRLReward(num_generations=2, eos_token_ids=[2])
    prompts = ["p1", "p1", "p2", "p2"]
    completions = ["Paris, France, Europe", "Paris, France", "Rome", "Rome, France"]
    out = reward(prompts=prompts, completions=completions, completion_ids=[[5, 2]] * 4,
                 label=["Paris", "Paris", "Rome", "Rome"], rubrics=[["France", "Europe"]] * 4, question=["q"] * 4)
    # group 1: max rubric 1.0 -> 1.0 and 0.7 + 0.3 * 0.5; group 2 (max 0.5): wrong... no, both correct:
    # "Rome" 0 entities -> 0.7; "Rome, France" 0.5 / 0.5 = 1.0 -> 1.0
    assert out == pytest.approx([1.0, 0.85, 0.7, 1.0])
    trunc = reward(prompts=prompts[:2], completions=completions[:2], completion_ids=[[5, 2], [5, 6]],
                   label=["Paris"] * 2, rubrics=[["France", "Europe"]] * 2, question=["q"] * 2)
    assert trunc == pytest.approx([1.0, 0.0])  # no EOS at the end -> truncated -> 0
