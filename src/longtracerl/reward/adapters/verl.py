"""verl adapter (verl 0.9.1): per-sample score, a registered reward manager, and the group step.

How verl 0.9.1 computes rewards decides the shape of this module. Its trainers score every response
ALONE (``RewardLoopWorker`` -> ``reward_manager.run_single(one_sample)``, often inside the agent loop while
other responses of the same prompt are still being generated), write one scalar per response at its last
valid token (``rm_scores``), and only the advantage estimator sees a whole prompt group (by ``uid``). So:

1. ``compute_score`` (for ``reward.custom_reward_function``) and the ``longtrace`` reward manager (for
   ``reward.reward_manager``) score each response and return a scalar that ENCODES its outcome and raw
   rubric losslessly: ``score = 0.75 * outcome + 0.25 * rubric`` (outcome in {0, 1}, rubric in [0, 1], so
   ``outcome = score >= 0.75``). The split outcome / rubric is also returned for verl's logs. A failed judge
   is an error state, not an outcome: its scalar is ``JUDGE_ERROR`` (-1, outside [0, 1]) with
   ``outcome_error`` set in the extra info.
2. The ``longtrace_grpo`` advantage estimator (``algorithm.adv_estimator=longtrace_grpo``) groups the
   responses by ``uid``, decodes outcome and rubric, applies the LongTraceRL group step (rubric divided by
   the group max, positive-only combination with eta) and then verl's own GRPO advantage
   (``(r - mean) / (std + 1e-6)``), exactly as ``LongTraceReward.score_group`` + GRPO would. It MASKS a
   ``JUDGE_ERROR`` response: out of its group's max, mean and std, advantage 0 (verl's estimator API cannot
   drop a row from the batch).

With verl's plain ``grpo`` estimator the encoded score is used as is (rubric on all responses, weight 0.25,
unnormalized): use ``longtrace_grpo`` for the paper's reward. Plain ``grpo`` cannot mask a judge failure, so the
reward manager raises on one under any other estimator (``compute_score`` cannot see the estimator: it returns
``JUDGE_ERROR``, which only ``longtrace_grpo`` understands).

Load with ``reward.reward_manager.source=importlib``,
``reward.reward_manager.module.path=pkg://longtracerl.reward.adapters.verl``,
``reward.reward_manager.name=LongTraceRewardManager``. The advantage estimator is registered in every verl
process by the ``verl.plugins`` entry point (``verl_plugin``), however the reward is wired; importing this
module registers it too. Settings: ``reward.reward_kwargs.longtrace`` (RewardConfig fields) for
the per-sample part and ``algorithm.longtrace`` (eta, strategy, normalize) for the group step, else
``$LONGTRACERL_REWARD_CONFIG``, else the paper's defaults.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from longtracerl.reward.adapters._common import as_str_list, get_reward, info_aliases, load_reward_config
from longtracerl.reward.adapters.verl_advantage import (  # noqa: F401  (public API of this adapter)
    ENCODE_RUBRIC_WEIGHT,
    ESTIMATOR_NAME,
    JUDGE_ERROR,
    compute_longtrace_grpo_advantage,
    decode,
    encode,
    longtrace_group_rewards,
    register_estimator,
)


def _sample_fields(ground_truth: Any, extra_info: Mapping[str, Any] | None) -> tuple[str, list[str], str, Any]:
    """(label, rubrics, question, aliases) from verl's ground truth and ``extra_info``.

    ``extra_info`` may hold ``rubrics``/``question``/``aliases`` directly (our verl parquet export) or the
    released ``extra_reward_info`` dict nested inside it.
    """
    info: dict[str, Any] = dict(extra_info or {})
    nested = info.get("extra_reward_info")
    if isinstance(nested, Mapping):
        info = {**nested, **{k: v for k, v in info.items() if k != "extra_reward_info"}}
    label = ground_truth
    if isinstance(label, Mapping):  # {"answer": ..., "rubrics": [...]}
        info.setdefault("rubrics", label.get("rubrics"))
        label = label.get("answer", label.get("label", ""))
    return (str(label), as_str_list(info.get("rubrics"), "extra_info.rubrics"), str(info.get("question") or ""),
            info_aliases(info))


def _result_info(result: Any, score: float) -> dict[str, Any]:
    return {
        "score": score,
        "outcome": JUDGE_ERROR if result.outcome is None else float(result.outcome),
        "rubric_raw": float(result.rubric_raw),
        "format_gate": str(result.details.get("format_gate", "")),
        "outcome_error": str(result.error or ""),
    }


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """verl ``custom_reward_function``: the encoded score plus outcome / raw rubric for verl's logs.

    ``kwargs`` may carry ``reward_config`` (RewardConfig fields, via ``custom_reward_function.reward_kwargs``).
    """
    label, rubrics, question, aliases = _sample_fields(ground_truth, extra_info)
    reward = get_reward(kwargs.get("reward_config"))
    r = reward.score_one(solution_str, label, rubrics, question=question, aliases=aliases)
    return _result_info(r, encode(r.outcome, r.rubric_raw))


# ------------------------------------------------------------------ reward manager


def _register() -> type:
    from verl import DataProto
    from verl.experimental.reward_loop.reward_manager import register
    from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase
    from verl.experimental.reward_loop.reward_manager.registry import REWARD_MANAGER

    register_estimator()
    if "longtrace" in REWARD_MANAGER:
        return REWARD_MANAGER["longtrace"]

    class LongTraceRewardManager(RewardManagerBase):
        """Scores one response per ``run_single`` (as verl 0.9.1 calls it) with the async LongTraceRL core.

        Truncation (the response filled ``max_response_length`` without an EOS token) is detected from the
        tokens, which ``compute_score`` cannot see, so the format gate pays it 0 as the released training does.
        With ``format: released`` the response is decoded WITH special tokens (its stop token included), so
        the gate sees a stop on end-of-text and special tokens left in the content; ``compute_score`` gets
        verl's text without special tokens and can check only the ``</think>`` and empty-answer rules.
        """

        def __init__(
            self,
            config: Any,
            tokenizer: Any,
            compute_score: Any = None,
            reward_router_address: str | None = None,
            reward_model_tokenizer: Any = None,
            **kwargs: Any,
        ) -> None:
            super().__init__(config, tokenizer, compute_score)
            reward_kwargs = {}
            try:
                reward_kwargs = dict(config.reward.get("reward_kwargs", {}) or {})
            except AttributeError:
                pass
            sub = reward_kwargs.get("longtrace")
            if sub is not None and hasattr(sub, "items"):
                sub = {k: (dict(v.items()) if hasattr(v, "items") else v) for k, v in sub.items()}
            self.reward_config = load_reward_config(sub)
            try:
                self.estimator = str(config.algorithm.adv_estimator)
            except AttributeError:  # a bare config (tests): assume the estimator this adapter documents
                self.estimator = ESTIMATOR_NAME
            self.eos_token_ids = {
                int(t) for t in (getattr(tokenizer, "eos_token_id", None), getattr(tokenizer, "pad_token_id", None))
                if t is not None
            }

        async def run_single(self, data: DataProto) -> dict[str, Any]:
            item = data[-1:][0]
            response_ids = item.batch["responses"]
            response_length = response_ids.shape[-1]
            valid = int(item.batch["attention_mask"][-response_length:].sum())
            ids = response_ids[:valid]
            truncated = valid == 0 or (valid >= response_length and int(ids[-1]) not in self.eos_token_ids)
            loop = asyncio.get_running_loop()  # not self.loop: the manager may be awaited from another loop
            tok: Any = self.tokenizer
            skip = self.reward_config.format != "released"
            text = await loop.run_in_executor(None, lambda: tok.decode(ids, skip_special_tokens=skip))
            label, rubrics, question, aliases = _sample_fields(
                item.non_tensor_batch["reward_model"]["ground_truth"], item.non_tensor_batch.get("extra_info", {})
            )
            reward = get_reward(self.reward_config)
            r = await reward.ascore_one(text, label, rubrics, question=question, aliases=aliases, truncated=truncated)
            if r.error is not None and self.estimator != ESTIMATOR_NAME:
                raise RuntimeError(
                    f"LongTraceRL judge failed ({r.error}) and algorithm.adv_estimator={self.estimator} cannot mask a "
                    f"response: any number would be read as its reward. Use algorithm.adv_estimator={ESTIMATOR_NAME}, "
                    "which masks judge failures, or fix the judge endpoint")
            score = encode(r.outcome, r.rubric_raw)
            return {"reward_score": score, "reward_extra_info": _result_info(r, score)}

    register("longtrace")(LongTraceRewardManager)
    return LongTraceRewardManager


LongTraceRewardManager = _register()
