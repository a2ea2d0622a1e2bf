"""The slime adapter called the way slime calls it.

slime itself cannot be installed here (it needs SGLang/Megatron on GPUs), so ``Sample`` below is a stand-in
carrying exactly the attributes of ``slime.utils.types.Sample`` that the reward path reads, and the
functions are loaded by dotted path and awaited as ``slime/rollout/rm_hub/__init__.py`` (``async_rm``,
``batched_async_rm``) and ``RolloutManager._post_process_rewards`` do.
"""

from __future__ import annotations

import asyncio
import importlib
from argparse import Namespace
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import pytest
import torch

from longtracerl.reward import LongTraceReward, RewardConfig


@dataclass
class Sample:  # stand-in for slime.utils.types.Sample (same names, types and defaults)
    class Status(Enum):
        PENDING = "pending"
        COMPLETED = "completed"
        TRUNCATED = "truncated"
        ABORTED = "aborted"
        FAILED = "failed"

    group_index: int | None = None
    index: int | None = None
    prompt: str | list[dict[str, str]] = ""
    tokens: list[int] = field(default_factory=list)
    response: str = ""
    response_length: int = 0
    label: str | None = None
    reward: float | dict[str, Any] | None = None
    loss_mask: list[int] | None = None
    remove_sample: bool = False
    status: Status = Status.PENDING
    metadata: dict = field(default_factory=dict)

    def get_reward_value(self, args: Any) -> float:
        return self.reward if not args.reward_key else self.reward[args.reward_key]  # type: ignore[index,return-value]


def load_function(path: str) -> Any:  # slime.utils.misc.load_function
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def _args(**kw: Any) -> Namespace:
    base = dict(custom_rm_path="longtracerl.reward.adapters.slime.reward_func", rm_type=None, reward_key="reward",
                group_rm=False, n_samples_per_prompt=4, rollout_batch_size=2, advantage_estimator="grpo",
                rewards_normalization=True, grpo_std_normalization=True,
                custom_reward_post_process_path="longtracerl.reward.adapters.slime.post_process_rewards")
    base.update(kw)
    return Namespace(**base)


GROUPS = [
    ("Paris", ["France", "Europe"], ["Paris, France, Europe", "<think>France Europe</think>Paris", "Lyon, France, Europe", "Paris France"]),
    ("Europe", ["France", "river"], ["Asia", "Europe", "Europe by the river in France", "Africa, France"]),
]


def _samples() -> list[Sample]:
    out = []
    for gi, (label, rubrics, responses) in enumerate(GROUPS):
        for j, resp in enumerate(responses):
            info = {"question": "q?", "rubrics": rubrics, "dataset_name": "longqa", "rubric_reward_ratio": 0.3,
                    "rubric_use_content": True, "rubric_use_reasoning_content": False}
            status = Sample.Status.TRUNCATED if (gi, j) == (0, 3) else Sample.Status.COMPLETED
            out.append(Sample(group_index=gi, index=gi * 4 + j, prompt=[{"role": "user", "content": f"q{gi}"}],
                              response=resp, label=label, status=status,
                              metadata={"extra_reward_info": info}))
    return out


async def async_rm(args: Namespace, sample: Sample, **kwargs: Any) -> Any:  # slime rm_hub.async_rm (custom path)
    return await load_function(args.custom_rm_path)(args, sample, **kwargs)


def test_reward_func_released_per_request_semantics() -> None:
    args = _args()
    samples = _samples()

    async def rollout() -> None:  # generate_and_rm: sample.reward = await async_rm(args, sample)
        rewards = await asyncio.gather(*(async_rm(args, s) for s in samples))
        for s, r in zip(samples, rewards, strict=True):
            s.reward = r

    asyncio.run(rollout())
    first = samples[0].reward
    assert first == {"reward": pytest.approx(1.0), "outcome_reward": 1.0, "rubric_reward": 1.0}
    # wrong answer with all entities: the released per-request reward is 0.3 * rubric (positive-only comes later)
    assert samples[2].reward["reward"] == pytest.approx(0.3) and samples[2].reward["outcome_reward"] == 0.0
    assert samples[3].reward["reward"] == 0.0  # truncated
    assert samples[0].get_reward_value(args) == pytest.approx(1.0)  # --reward-key reward
    ev = asyncio.run(async_rm(args, samples[2], evaluation=True))
    assert ev["reward"] == 0.0  # ratio 0 at evaluation

    # RolloutManager._post_process_rewards with --custom-reward-post-process-path
    raw, rewards = load_function(args.custom_reward_post_process_path)(args, samples)
    assert len(raw) == len(rewards) == len(samples)
    scorer = LongTraceReward(RewardConfig())
    expected: list[float] = []
    for gi, (label, rubrics, responses) in enumerate(GROUPS):
        res = scorer.score_group(responses, label, rubrics, question="q?",
                                 truncated=[(gi, j) == (0, 3) for j in range(4)])
        expected += [r.reward for r in res]
    assert raw == pytest.approx(expected)
    assert raw[:4] == pytest.approx([1.0, 0.7, 0.0, 0.0])  # reasoning not matched; wrong and truncated -> 0
    t = torch.tensor(expected).view(2, 4)
    t = t - t.mean(-1, keepdim=True)
    t = t / (t.std(-1, keepdim=True) + 1e-6)  # slime's default GRPO normalization, which the hook replaces
    assert rewards == pytest.approx(t.flatten().tolist(), abs=1e-5)


def test_post_process_groups_by_group_index_not_position() -> None:
    args = _args(advantage_estimator="reinforce_plus_plus", rewards_normalization=False)
    samples = _samples()
    for s in samples:
        s.reward = asyncio.run(async_rm(args, s))
    shuffled = [samples[i] for i in (4, 0, 5, 1, 6, 2, 7, 3)]
    raw_sorted, _ = load_function(args.custom_reward_post_process_path)(args, samples)
    raw_shuffled, rewards = load_function(args.custom_reward_post_process_path)(args, shuffled)
    assert raw_shuffled == pytest.approx([raw_sorted[i] for i in (4, 0, 5, 1, 6, 2, 7, 3)])
    assert rewards == raw_shuffled  # no normalization requested


def test_group_rm_mode() -> None:
    args = _args(group_rm=True, custom_rm_path="longtracerl.reward.adapters.slime.group_reward_func")
    samples = _samples()
    group = samples[4:]
    # generate_and_rm_group with --group-rm: rewards = await batched_async_rm(args, group)
    rewards = asyncio.run(load_function(args.custom_rm_path)(args, group))
    res = LongTraceReward(RewardConfig()).score_group([s.response for s in group], "Europe", ["France", "river"],
                                                     question="q?")
    assert rewards == pytest.approx([r.reward for r in res])
    assert rewards[0] == 0.0 and rewards[2] == pytest.approx(1.0)


def test_post_process_rejects_scalar_rewards() -> None:
    args = _args()
    samples = _samples()
    for s in samples:
        s.reward = 1.0
    with pytest.raises(ValueError, match="outcome_reward"):
        load_function(args.custom_reward_post_process_path)(args, samples)
