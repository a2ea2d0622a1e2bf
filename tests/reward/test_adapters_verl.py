"""The verl adapter called the way verl 0.9.1 calls it, on a real ``DataProto`` (CPU)."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

pytest.importorskip("verl")

import torch  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402
from verl import DataProto  # noqa: E402
from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls  # noqa: E402
from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager  # noqa: E402
from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage, get_adv_estimator_fn  # noqa: E402
from verl.trainer.ppo.ray_trainer import compute_advantage  # noqa: E402
from verl.trainer.ppo.reward import resolve_reward_manager_cls  # noqa: E402

from longtracerl.reward import LongTraceReward, RewardConfig  # noqa: E402
from longtracerl.reward.adapters import verl as adapter  # noqa: E402

P, R = 12, 16
# (uid, response text, ends with EOS); two prompts, four responses each
ROWS: list[tuple[str, str, bool]] = [
    ("a", "<think>France, Europe</think>Paris, in France", True),
    ("a", "Paris", True),
    ("a", "Lyon in France and Europe", True),
    ("a", "Paris " + "France " * 30, False),  # fills the response budget without EOS: truncated
    ("b", "Europe, near France", True),
    ("b", "Asia", True),
    ("b", "Europe", True),
    ("b", "France and the river", True),
]
GOLD = {"a": ("Paris", ["France", "Europe"]), "b": ("Europe", ["France", "river"])}


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    from longtracerl.train.models import bundled_tokenizer

    return bundled_tokenizer()


def _dataproto(tok: Any) -> DataProto:
    """Built like verl's rollout output: left-padded prompts, right-padded responses, one mask over both."""
    prompts, responses, masks = [], [], []
    for uid, text, eos in ROWS:
        p = tok.encode(f"question {uid}?", add_special_tokens=False)[:P]
        r = tok.encode(text, add_special_tokens=False)
        r = (r + [tok.eos_token_id])[:R] if eos else r[:R]
        assert eos or len(r) == R
        prompts.append([tok.pad_token_id] * (P - len(p)) + p)
        responses.append(r + [tok.pad_token_id] * (R - len(r)))
        masks.append([0] * (P - len(p)) + [1] * len(p) + [1] * len(r) + [0] * (R - len(r)))
    prompts_t, responses_t = torch.tensor(prompts), torch.tensor(responses)
    attention_mask = torch.tensor(masks)
    return DataProto.from_dict(
        tensors={
            "prompts": prompts_t,
            "responses": responses_t,
            "input_ids": torch.cat([prompts_t, responses_t], dim=1),
            "attention_mask": attention_mask,
            "position_ids": (attention_mask.cumsum(-1) - 1).clamp(min=0),
            "response_mask": attention_mask[:, P:],
        },
        non_tensors={
            "uid": np.array([u for u, _, _ in ROWS], dtype=object),
            "data_source": np.array(["longqa"] * len(ROWS), dtype=object),
            "reward_model": np.array([{"ground_truth": GOLD[u][0], "style": "rule"} for u, _, _ in ROWS], dtype=object),
            "extra_info": np.array(
                [{"question": f"question {u}?", "rubrics": GOLD[u][1]} for u, _, _ in ROWS], dtype=object
            ),
        },
    )


def _verl_config() -> Any:
    return OmegaConf.create({
        "reward": {
            "reward_manager": {"source": "importlib", "name": "LongTraceRewardManager",
                               "module": {"path": "pkg://longtracerl.reward.adapters.verl"}},
            "reward_kwargs": {"longtrace": {"eta": 0.3, "rubric_mode": "word"}},
        },
        "algorithm": {"adv_estimator": "longtrace_grpo", "norm_adv_by_std_in_grpo": True},
    })


def _expected_rewards(tok: Any) -> torch.Tensor:
    """What LongTraceReward.score_group gives per prompt on the same decoded responses."""
    scorer = LongTraceReward(RewardConfig())
    data = _dataproto(tok)
    out = torch.zeros(len(ROWS))
    for uid in GOLD:
        rows = [i for i, (u, _, _) in enumerate(ROWS) if u == uid]
        texts = []
        for i in rows:
            n = int(data.batch["attention_mask"][i, P:].sum())
            texts.append(tok.decode(data.batch["responses"][i, :n], skip_special_tokens=True))
        res = scorer.score_group(texts, GOLD[uid][0], GOLD[uid][1], question=f"question {uid}?",
                                 truncated=[not ROWS[i][2] for i in rows])
        for i, r in zip(rows, res, strict=True):
            out[i] = r.reward
    return out


def test_encode_decode_roundtrip() -> None:
    for o in (0.0, 1.0):
        for rb in (0.0, 0.2, 1 / 3, 0.5, 1.0):
            s = float(torch.tensor(adapter.encode(o, rb), dtype=torch.float32))
            assert adapter.decode(s) == pytest.approx((o, rb), abs=1e-5)
    with pytest.raises(ValueError, match="binary outcome"):
        adapter.encode(0.5, 0.0)
    with pytest.raises(ValueError, match="not a LongTraceRL-encoded"):
        adapter.decode(2.0)


def test_reward_manager_and_estimator_as_verl_trainer_calls_them(tokenizer: Any) -> None:
    config = _verl_config()
    # verl resolves the manager from the config (importlib source) exactly like RewardLoopManager does
    cls = resolve_reward_manager_cls(config)
    assert cls is get_reward_manager_cls("longtrace") is adapter.LongTraceRewardManager
    manager = cls(config=config, tokenizer=tokenizer, compute_score=None)
    data = _dataproto(tokenizer)

    async def compute_score_batch() -> list[dict[str, Any]]:  # RewardLoopWorker.compute_score_batch
        return await asyncio.gather(*(manager.run_single(data[i : i + 1]) for i in range(len(data))))

    outputs = asyncio.run(compute_score_batch())
    manager.loop.close()  # verl's base class made a loop we never use: close it rather than leak its sockets
    scores = [o["reward_score"] for o in outputs]
    rm_scores = cls.assemble_rm_scores(data, scores)  # RewardLoopManager.compute_rm_score
    lengths = data.batch["attention_mask"][:, P:].sum(-1)
    for i, n in enumerate(lengths.tolist()):
        assert rm_scores[i, n - 1] == pytest.approx(scores[i])  # reward at the last valid response token
        assert rm_scores[i].abs().sum() == pytest.approx(abs(scores[i]))
    info = {k: [o["reward_extra_info"][k] for o in outputs] for k in outputs[0]["reward_extra_info"]}
    assert info["outcome"] == [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    assert info["format_gate"][3] == "truncated"

    # the trainer's advantage step: token_level_rewards + uid -> registered estimator
    data.batch["token_level_rewards"] = rm_scores
    assert get_adv_estimator_fn("longtrace_grpo") is adapter.compute_longtrace_grpo_advantage
    data = compute_advantage(data, adv_estimator=config.algorithm.adv_estimator, num_repeat=4,
                             config=config.algorithm)

    expected = _expected_rewards(tokenizer)
    # final answer names 1 of 2 entities; the group max (1.0) is a WRONG answer's: 0.7 + 0.3 * 0.5
    assert expected[:3].tolist() == pytest.approx([0.85, 0.7, 0.0])
    token_rewards = torch.zeros_like(rm_scores)
    token_rewards[torch.arange(len(ROWS)), lengths - 1] = expected
    adv, ret = compute_grpo_outcome_advantage(token_rewards, data.batch["response_mask"], data.non_tensor_batch["uid"])
    assert torch.allclose(data.batch["advantages"], adv, atol=1e-5)
    assert torch.allclose(data.batch["returns"], ret, atol=1e-5)
    assert data.batch["advantages"][0, 0] > 0 > data.batch["advantages"][3, 0]


def test_group_step_is_by_uid_not_by_position() -> None:
    # interleaved uids: a position-based grouping would mix the two prompts
    scores = [adapter.encode(1, 1.0), adapter.encode(1, 0.5), adapter.encode(1, 0.5), adapter.encode(0, 0.25)]
    out = adapter.longtrace_group_rewards(scores, np.array(["a", "b", "a", "b"], dtype=object))
    # a: max 1.0 -> [1.0, 0.85]; b: max 0.5 -> correct 0.5/0.5 -> 1.0, wrong -> 0
    assert out.tolist() == pytest.approx([1.0, 1.0, 0.85, 0.0])


def test_compute_score_through_verls_naive_manager(tokenizer: Any) -> None:
    """``custom_reward_function`` path: verl's own NaiveRewardManager calls our compute_score."""
    manager = NaiveRewardManager(config=_verl_config(), tokenizer=tokenizer, compute_score=adapter.compute_score)
    data = _dataproto(tokenizer)
    try:
        out = manager.loop.run_until_complete(manager.run_single(data[0:1]))
        wrong = manager.loop.run_until_complete(manager.run_single(data[5:6]))
    finally:
        manager.loop.close()  # the manager made this loop; leaving it open leaks its sockets
    assert out["reward_score"] == pytest.approx(adapter.encode(1.0, 0.5))  # correct, 1 of 2 entities in the answer
    assert out["reward_extra_info"]["outcome"] == 1.0 and out["reward_extra_info"]["rubric_raw"] == 0.5
    assert wrong["reward_score"] == 0.0


def test_estimator_reads_group_settings_from_algorithm_config() -> None:
    from longtracerl.reward import combine_group

    scores = [adapter.encode(1, 0.5), adapter.encode(0, 1.0), adapter.encode(1, 0.0)]
    token = torch.zeros(3, 4)
    token[:, 2] = torch.tensor(scores)
    mask = torch.ones(3, 4, dtype=torch.long)
    mask[:, 3] = 0
    uid = np.array(["x", "x", "x"], dtype=object)
    algo = OmegaConf.create({"adv_estimator": "longtrace_grpo", "norm_adv_by_std_in_grpo": False,
                             "longtrace": {"eta": 0.5, "strategy": "all"}})
    adv, _ = get_adv_estimator_fn("longtrace_grpo")(token_level_rewards=token, response_mask=mask, index=uid, config=algo)
    r = torch.tensor(combine_group([1, 0, 1], [0.5, 1.0, 0.0], eta=0.5, strategy="all"))
    assert adv[:, 0].tolist() == pytest.approx((r - r.mean()).tolist(), abs=1e-5)  # no std scaling, as configured
    assert adv[:, 3].tolist() == [0.0, 0.0, 0.0]  # padding gets no advantage
