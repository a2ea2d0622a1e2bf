"""verl's ``longtrace_grpo`` advantage estimator and the score encoding, without the reward-manager imports.

Kept apart from ``verl.py`` so verl can load it while it is itself being imported: the ``verl.plugins``
entry point (``longtracerl.reward.adapters.verl_plugin``) registers the estimator in EVERY process that
imports verl, the trainer included, however the reward is wired (reward manager, ``compute_score`` or a
remote reward).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import torch

from longtracerl.reward.adapters._common import load_reward_config

ESTIMATOR_NAME = "longtrace_grpo"

#: Weight of the rubric in the encoded per-sample scalar. Fixed (not eta) so the per-sample scorer and the
#: group step cannot disagree about it; 0.25 < 0.5 keeps ``outcome`` decodable from the scalar.
ENCODE_RUBRIC_WEIGHT = 0.25
#: The scalar of a response whose judge failed (an error state, not an outcome): outside the encoded range
#: [0, 1], so it can never be read as a reward; ``longtrace_grpo`` masks such a response (see below).
JUDGE_ERROR = -1.0
_TOL = 1e-4  # verl keeps rewards in float32


def encode(outcome: float | None, rubric: float) -> float:
    """The per-sample scalar verl carries: ``0.75 * outcome + 0.25 * rubric``; outcome must be 0 or 1, or None
    for a failed judge (``JUDGE_ERROR``)."""
    if outcome is None:
        return JUDGE_ERROR
    if outcome not in (0.0, 1.0):
        raise ValueError(
            f"the verl adapter needs a binary outcome (0 or 1) to encode it losslessly, got {outcome}; "
            "use a binary rule (exact, contains, choice) or the judge, not token F1"
        )
    if not 0.0 <= rubric <= 1.0:
        raise ValueError(f"rubric score must be in [0, 1], got {rubric}")
    return (1 - ENCODE_RUBRIC_WEIGHT) * outcome + ENCODE_RUBRIC_WEIGHT * rubric


def decode(score: float) -> tuple[float | None, float]:
    """Inverse of :func:`encode`: ``(outcome, rubric)``; ``(None, 0.0)`` for ``JUDGE_ERROR``."""
    if abs(score - JUDGE_ERROR) <= _TOL:
        return None, 0.0
    if not -_TOL <= score <= 1 + _TOL:
        raise ValueError(
            f"reward {score} is not a LongTraceRL-encoded score in [0, 1]: the longtrace_grpo estimator needs "
            "rewards from longtracerl's compute_score or LongTraceRewardManager"
        )
    outcome = 1.0 if score >= (1 - ENCODE_RUBRIC_WEIGHT) - _TOL else 0.0
    rubric = (score - (1 - ENCODE_RUBRIC_WEIGHT) * outcome) / ENCODE_RUBRIC_WEIGHT
    return outcome, min(1.0, max(0.0, rubric))


# ------------------------------------------------------------------ group step (advantage estimator)


def _group_config(config: Any) -> tuple[float, str, bool]:
    """(eta, strategy, normalize) from ``algorithm.longtrace`` or the reward config."""
    base = load_reward_config()
    sub = None
    if config is not None:
        getter = getattr(config, "get", None)
        sub = getter("longtrace", None) if getter is not None else getattr(config, "longtrace", None)
    if sub:
        items = dict(sub.items()) if hasattr(sub, "items") else dict(sub)
        base = base.model_copy(update={k: v for k, v in items.items() if k in ("eta", "strategy", "normalize")})
    if base.strategy == "longrlvr":
        raise ValueError("strategy 'longrlvr' needs F-beta over cited chunks, which verl's scalar cannot carry")
    return base.eta, base.strategy, base.normalize


def longtrace_group_rewards(
    scores: torch.Tensor | np.ndarray | list[float],
    index: np.ndarray | list[Any],
    *,
    eta: float = 0.3,
    strategy: str = "positive_only",
    normalize: bool = True,
) -> torch.Tensor:
    """Combined LongTraceRL rewards of a batch, grouped by ``index`` (verl's prompt ``uid``); NaN where the judge
    failed (such a response is left out of its group's max and normalization)."""
    from longtracerl.reward import combine_group

    vals = [float(v) for v in (scores.tolist() if hasattr(scores, "tolist") else scores)]
    if len(vals) != len(index):
        raise ValueError(f"{len(vals)} scores for {len(index)} uids")
    groups: dict[Any, list[int]] = defaultdict(list)
    for i, uid in enumerate(index):
        groups[uid].append(i)
    out = torch.zeros(len(vals), dtype=torch.float32)
    for rows in groups.values():
        decoded = [decode(vals[i]) for i in rows]
        combined = combine_group(
            [o for o, _ in decoded], [r for _, r in decoded], eta=eta, strategy=strategy, normalize=normalize  # type: ignore[arg-type]
        )
        for i, c in zip(rows, combined, strict=True):
            out[i] = float("nan") if c is None else c
    return out


def compute_longtrace_grpo_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray,
    config: Any = None,
    epsilon: float = 1e-6,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """verl advantage estimator ``longtrace_grpo``: LongTraceRL group step, then verl's GRPO advantage.

    A response whose judge failed (``JUDGE_ERROR``) is masked: it is left out of its group's rubric max, mean
    and std (verl's GRPO runs on the other responses only), and its advantage and return are 0, so it moves
    nothing. An estimator cannot drop a row from verl's batch: its tokens still count in a token-mean loss's
    denominator, with zero advantage."""
    from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage

    eta, strategy, normalize = _group_config(config)
    scores = token_level_rewards.sum(dim=-1)
    combined = longtrace_group_rewards(scores, index, eta=eta, strategy=strategy, normalize=normalize)
    keep = torch.nonzero(~torch.isnan(combined), as_tuple=True)[0]
    advantages = torch.zeros_like(token_level_rewards)
    returns = torch.zeros_like(token_level_rewards)
    if len(keep) == 0:
        return advantages, returns
    rewards = torch.zeros_like(token_level_rewards[keep])
    lengths = response_mask[keep].sum(dim=-1).long()
    last = (lengths - 1).clamp(min=0)
    rewards[torch.arange(rewards.size(0)), last] = combined[keep].to(rewards.dtype)
    norm_by_std = True
    if config is not None and hasattr(config, "get"):
        norm_by_std = bool(config.get("norm_adv_by_std_in_grpo", True))
    adv, ret = compute_grpo_outcome_advantage(
        token_level_rewards=rewards,
        response_mask=response_mask[keep],
        index=np.asarray(index, dtype=object)[keep.numpy()],
        epsilon=epsilon,
        norm_adv_by_std_in_grpo=norm_by_std,
    )
    advantages[keep] = adv.to(advantages.dtype)
    returns[keep] = ret.to(returns.dtype)
    return advantages, returns



def register_estimator() -> bool:
    """Register ``longtrace_grpo`` in verl's estimator registry (idempotent); False when verl is absent."""
    try:
        from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY, register_adv_est
    except ImportError:
        return False
    if ESTIMATOR_NAME not in ADV_ESTIMATOR_REGISTRY:
        register_adv_est(ESTIMATOR_NAME)(compute_longtrace_grpo_advantage)
    return True
