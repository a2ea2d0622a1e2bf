"""The paper's recipe converts to settings TRL and verl accept (validated by the frameworks themselves)."""

from __future__ import annotations

import os

import pytest

from longtracerl.train.grpo_config import PaperGRPOConfig


def test_trl_kwargs_build_a_real_grpo_config(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("trl")
    from trl import GRPOConfig

    cfg = PaperGRPOConfig()
    kw = cfg.to_trl_kwargs()
    args = GRPOConfig(output_dir=str(tmp_path), use_cpu=True, report_to=[], **kw)
    assert args.learning_rate == 2e-6 and args.lr_scheduler_type == "constant"
    assert (args.weight_decay, args.adam_beta1, args.adam_beta2) == (0.1, 0.9, 0.98)
    assert (args.epsilon, args.epsilon_high, args.beta) == (0.2, 0.28, 0.0)
    assert args.loss_type == "dapo" and args.num_generations == 8 and args.temperature == 1.0
    assert args.generation_batch_size == 128 and args.steps_per_generation == args.gradient_accumulation_steps
    vllm = cfg.to_trl_kwargs(use_vllm=True, per_device_train_batch_size=4, num_processes=4)
    assert vllm["vllm_importance_sampling_mode"] == "token_mask"
    assert (vllm["vllm_importance_sampling_clip_min"], vllm["vllm_importance_sampling_clip_max"]) == (0.5, 2.0)
    assert vllm["gradient_accumulation_steps"] == 8
    with pytest.raises(ValueError, match="multiple"):
        cfg.to_trl_kwargs(per_device_train_batch_size=3)
    assert any("1e-4" in s for s in cfg.unsupported_in("trl"))


def test_verl_overrides_compose_with_verls_own_config() -> None:
    verl = pytest.importorskip("verl")
    from hydra import compose, initialize_config_dir

    cfg_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    with initialize_config_dir(config_dir=cfg_dir, version_base=None):
        c = compose(config_name="ppo_trainer", overrides=PaperGRPOConfig().to_verl_overrides())
    a = c.actor_rollout_ref.actor
    assert c.algorithm.adv_estimator == "longtrace_grpo"
    assert (a.optim.lr, a.optim.weight_decay, list(a.optim.betas)) == (2e-6, 0.1, [0.9, 0.98])
    assert (a.clip_ratio_low, a.clip_ratio_high, a.loss_agg_mode, a.use_kl_loss) == (0.2, 0.28, "token-mean", False)
    assert c.actor_rollout_ref.rollout.n == 8 and c.data.train_batch_size == 16 and a.ppo_mini_batch_size == 16
    assert c.algorithm.rollout_correction.rollout_is == "token"
    assert c.algorithm.rollout_correction.rollout_is_threshold == "0.5_2.0"
    assert c.reward.reward_manager.module.path == "pkg://longtracerl.reward.adapters.verl"
