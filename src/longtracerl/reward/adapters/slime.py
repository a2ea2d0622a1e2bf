"""slime adapter: the released training's reward, as slime calls it.

- ``reward_func(args, sample, **kwargs)`` for ``--custom-rm-path longtracerl.reward.adapters.slime.reward_func``:
  slime awaits it once per sample (``async_rm``) and stores the returned dict in ``sample.reward``. It has the
  released per-request semantics: ``{"reward": (1 - ratio) * outcome + ratio * rubric, "outcome_reward",
  "rubric_reward"}`` with ``ratio = extra_reward_info["rubric_reward_ratio"]`` (else eta; 0 when slime passes
  ``evaluation=True``). Use ``--reward-key reward`` so slime's logs read the scalar.
- ``post_process_rewards(args, samples)`` for ``--custom-reward-post-process-path``: slime hands it the
  flat list of a rollout's samples and expects ``(raw_rewards, rewards)``; it regroups them (``group_index``,
  else consecutive blocks of ``n_samples_per_prompt``), applies the LongTraceRL group step (rubric / group
  max, positive-only) and then slime's own GRPO normalization, which a custom post-process replaces.
- ``group_reward_func(args, samples, **kwargs)`` for ``--group-rm --custom-rm-path ...group_reward_func``:
  slime calls it with the G samples of one prompt; it returns their combined rewards directly (slime's
  default group normalization then applies; no post-process needed).

Settings come from ``$LONGTRACERL_REWARD_CONFIG`` (the path of a YAML/JSON ``RewardConfig`` file) or
``args.longtrace_reward_config`` (a path too).

A failed judge is an error state, never an outcome. ``reward_func`` returns ``{"reward": nan, "outcome_reward":
nan, "rubric_reward": ..., "judge_error": why}`` and ``post_process_rewards`` MASKS that sample: left out of its
group's rubric max and GRPO mean/std, reward 0, ``sample.remove_sample = True`` and an all-zero
``loss_mask`` (slime cannot drop one sample of a rollout, but it trains only on loss-masked tokens).
``group_reward_func`` masks it the same way and gives it the group's mean reward, so slime's own group
normalization of the others is unchanged. Without our post-process, slime would see the NaN: always pair
``reward_func`` with ``post_process_rewards`` (``longtracerl train slime-args`` does).

Released format gate: the adapter gates ``sample.response`` as slime stored it. slime keeps special
tokens in the response unless ``--rollout-skip-special-tokens`` is set (leave it unset for the gate to
see them); a stop token that the rollout engine trimmed from the text cannot be seen: when slime records
it, put it back in ``sample.metadata["stop_token"]`` and the adapter appends it before gating.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from longtracerl.reward.adapters._common import as_str_list, get_reward, info_aliases, message_text

_NAN = float("nan")
_GRPO_LIKE = ("grpo", "gspo", "cispo", "reinforce_plus_plus_baseline")
_STD_NORMALIZED = ("grpo", "gspo", "cispo")


def _config_source(args: Any) -> Any:
    return getattr(args, "longtrace_reward_config", None)


def _info(sample: Any) -> dict[str, Any]:
    meta = sample.metadata if isinstance(getattr(sample, "metadata", None), dict) else {}
    info = meta.get("extra_reward_info", meta)
    return info if isinstance(info, dict) else {}


def _is_truncated(sample: Any) -> bool:
    status = getattr(sample, "status", None)
    return str(getattr(status, "value", status)).lower() == "truncated"


def _response(sample: Any) -> str:
    """The response text (plus ``metadata["stop_token"]`` when the engine trimmed it off the text)."""
    resp = getattr(sample, "response", "")
    text = resp if isinstance(resp, str) else message_text(resp)
    meta = sample.metadata if isinstance(getattr(sample, "metadata", None), dict) else {}
    stop = meta.get("stop_token")
    return text + stop if isinstance(stop, str) and stop and not text.rstrip().endswith(stop) else text


async def reward_func(args: Any, sample: Any, **kwargs: Any) -> dict[str, Any]:
    """Per-sample reward with the released per-request semantics (see the module docstring)."""
    info = _info(sample)
    reward = get_reward(_config_source(args))
    ratio = info.get("rubric_reward_ratio")
    if kwargs.get("evaluation"):
        ratio = 0.0
    r = await reward.ascore_one(
        _response(sample),
        str(sample.label if sample.label is not None else ""),
        as_str_list(info.get("rubrics"), "metadata.extra_reward_info.rubrics"),
        question=str(info.get("question") or ""),
        rubric_reward_ratio=None if ratio is None else float(ratio),
        aliases=info_aliases(info),
        truncated=_is_truncated(sample),
    )
    if r.error is not None:  # an error state, not an outcome: post_process_rewards masks this sample
        return {"reward": _NAN, "outcome_reward": _NAN, "rubric_reward": float(r.rubric_raw), "judge_error": r.error}
    return {"reward": float(r.reward or 0.0), "outcome_reward": float(r.outcome or 0.0),
            "rubric_reward": float(r.rubric_raw)}


def _mask(sample: Any) -> None:
    """Take a sample out of the policy loss the ways slime allows: ``remove_sample`` (recent slime) and an
    all-zero ``loss_mask`` (every slime version reads it after the reward post-process)."""
    sample.remove_sample = True
    n = int(getattr(sample, "response_length", 0) or len(getattr(sample, "loss_mask", None) or []))
    sample.loss_mask = [0] * n


async def group_reward_func(args: Any, samples: Sequence[Any], **kwargs: Any) -> list[float]:
    """``--group-rm``: the combined LongTraceRL rewards of one prompt's samples."""
    if not samples:
        return []
    first = samples[0]
    info = _info(first)
    reward = get_reward(_config_source(args))
    results = await reward.ascore_group(
        [_response(s) for s in samples],
        str(first.label if first.label is not None else ""),
        as_str_list(info.get("rubrics"), "metadata.extra_reward_info.rubrics"),
        question=str(info.get("question") or ""),
        aliases=info_aliases(info),
        truncated=[_is_truncated(s) for s in samples],
    )
    decided = [float(r.reward) for r in results if r.reward is not None]
    fill = sum(decided) / len(decided) if decided else 0.0
    for s, r in zip(samples, results, strict=True):
        if r.reward is None:  # masked; its reward is the group mean so slime's group mean is unchanged
            _mask(s)
    return [fill if r.reward is None else float(r.reward) for r in results]


def _groups(args: Any, samples: Sequence[Any]) -> list[list[int]]:
    if samples and all(getattr(s, "group_index", None) is not None for s in samples):
        by: dict[Any, list[int]] = {}
        for i, s in enumerate(samples):
            by.setdefault(s.group_index, []).append(i)
        return list(by.values())
    g = int(getattr(args, "n_samples_per_prompt", 0) or 0)
    if g < 1 or len(samples) % g:
        raise ValueError(
            f"cannot group {len(samples)} samples: no group_index on them and n_samples_per_prompt={g} "
            "does not divide their number"
        )
    return [list(range(i, i + g)) for i in range(0, len(samples), g)]


def _parts(sample: Any) -> tuple[float | None, float]:
    """(outcome or None for a failed judge, raw rubric) of a sample scored by ``reward_func`` or the server."""
    r = sample.reward
    if isinstance(r, dict) and r.get("judge_error"):
        return None, float(r.get("rubric_reward", 0.0))
    if isinstance(r, dict) and "outcome_reward" in r:
        return float(r["outcome_reward"]), float(r.get("rubric_reward", 0.0))
    raise ValueError(
        f"sample {getattr(sample, 'index', '?')} has reward {r!r}; post_process_rewards needs the dict "
        "that longtracerl's reward_func (or the reward server) returns, with outcome_reward and rubric_reward"
    )


def post_process_rewards(args: Any, samples: Sequence[Any]) -> tuple[list[float], list[float]]:
    """slime ``--custom-reward-post-process-path``: LongTraceRL group step, then slime's GRPO normalization."""
    import torch

    from longtracerl.reward import combine_group

    cfg = get_reward(_config_source(args)).config
    raw = [0.0] * len(samples)
    failed: set[int] = set()
    groups = _groups(args, samples)
    for rows in groups:
        parts = [_parts(samples[i]) for i in rows]
        combined = combine_group(
            [o for o, _ in parts], [r for _, r in parts], eta=cfg.eta, strategy=cfg.strategy, normalize=cfg.normalize
        )
        for i, c in zip(rows, combined, strict=True):
            if c is None:  # the judge failed: out of the group step, masked out of the loss, reward 0
                failed.add(i)
                _mask(samples[i])
            raw[i] = 0.0 if c is None else float(c)
    estimator = getattr(args, "advantage_estimator", "grpo")
    if estimator not in _GRPO_LIKE or not getattr(args, "rewards_normalization", True):
        return raw, list(raw)
    out = list(raw)
    for group in groups:
        rows = [i for i in group if i not in failed]
        if not rows:
            continue
        t = torch.tensor([raw[i] for i in rows], dtype=torch.float)
        t = t - t.mean()
        if estimator in _STD_NORMALIZED and getattr(args, "grpo_std_normalization", True) and len(rows) > 1:
            t = t / (t.std() + 1e-6)
        for i, v in zip(rows, t.tolist(), strict=True):
            out[i] = float(v)
    return raw, out
