"""Launch arguments for OpenRLHF and slime from the paper's recipe (verl's are ``PaperGRPOConfig.to_verl_overrides``).

The tests parse these with each framework's own argument parser, so README and examples print exactly these.
"""

from __future__ import annotations

from longtracerl.train.grpo_config import PaperGRPOConfig

#: OpenRLHF versions whose ``train_ppo_ray`` parser takes the dotted flags below (renamed in 0.10.2).
OPENRLHF_VERSIONS = ">=0.10.2 (checked against 0.11.2)"
#: The same flags before 0.10.2, for users of older OpenRLHF.
OPENRLHF_OLD_SPELLING = {
    "--reward.remote_url": "--remote_rm_url",
    "--data.label_key": "--label_key",
    "--data.input_key": "--input_key",
    "--data.prompt_dataset": "--prompt_data",
    "--actor.model_name_or_path": "--pretrain",
    "--rollout.n_samples_per_prompt": "--n_samples_per_prompt",
    "--rollout.batch_size": "--rollout_batch_size",
    "--train.batch_size": "--train_batch_size",
    "--algo.advantage.estimator": "--advantage_estimator",
}


def openrlhf_args(
    cfg: PaperGRPOConfig | None = None,
    *,
    model: str = "MODEL",
    data: str = "train.jsonl",
    reward_file: str = "examples/openrlhf_reward.py",
    nnodes: int = 1,
    gpus_per_node: int = 8,
) -> list[str]:
    """Arguments for ``python -m openrlhf.cli.train_ppo_ray`` (OpenRLHF >= 0.10.2).

    OpenRLHF calls a ``.py`` reward ONE RESPONSE AT A TIME, so the group step (rubric / group max) never sees
    a group: the rubric enters raw (positive-only still applies; see ``reward.adapters.openrlhf``). Its
    ``group_norm`` estimator then gives ``(r - mean) / (std + eps)`` over the prompt's samples. Labels must be
    JSON ``{"answer", "rubrics", "question"}`` strings for the rubric to count; a plain answer gives the
    outcome alone. Not expressible: the advantage epsilon 1e-6 (OpenRLHF's own), token-level IS masking
    bounds are set, KL is off via ``--algo.kl.init_coef 0``.
    """
    c = cfg or PaperGRPOConfig()
    lo, hi = c.epsilon_low, c.epsilon_high
    return [
        "--actor.model_name_or_path", model,
        "--actor.num_nodes", str(nnodes),
        "--actor.num_gpus_per_node", str(gpus_per_node),
        "--vllm.num_engines", str(nnodes * gpus_per_node),
        "--vllm.tensor_parallel_size", "1",
        "--train.colocate_all",
        "--data.prompt_dataset", data,
        "--data.input_key", "input_messages",
        "--data.apply_chat_template",
        "--data.label_key", "label",
        "--reward.remote_url", reward_file,
        "--algo.advantage.estimator", "group_norm",
        "--rollout.n_samples_per_prompt", str(c.num_generations),
        "--rollout.batch_size", str(c.prompts_per_step),
        "--train.batch_size", str(c.completions_per_step),
        "--rollout.temperature", str(c.temperature),
        "--data.max_len", str(c.max_prompt_length + c.max_completion_length),
        "--rollout.max_new_tokens", str(c.max_completion_length),
        "--actor.adam.lr", str(c.learning_rate),
        "--actor.adam.betas", str(c.adam_beta1), str(c.adam_beta2),
        "--actor.adam.weight_decay", str(c.weight_decay),
        "--actor.lr_scheduler", "constant",
        "--actor.lr_warmup_ratio", "0",
        "--actor.max_norm", str(c.max_grad_norm),
        "--actor.eps_clip_low_high", str(lo), str(hi),
        "--actor.loss_agg_mode", "token-mean" if c.token_level_loss else "seq-mean-token-mean",
        "--actor.entropy_coef", str(c.entropy_coef),
        "--algo.kl.init_coef", str(c.beta),
        "--algo.advantage.is_correction_level", "token" if c.is_correction else "off",
        "--algo.advantage.is_correction_mode", "mask",
        "--algo.advantage.is_correction_threshold", str(c.is_min), str(c.is_max),
        "--train.seed", str(c.seed),
    ]


def slime_args(cfg: PaperGRPOConfig | None = None, *, group_rm: bool = False) -> list[str]:
    """slime arguments for the LongTraceRL reward and the paper's rollout shape.

    Training reads the mixed ``reward``; evaluation reads ``outcome_reward`` (``--eval-reward-key``), so the
    logged eval score is accuracy, not the rubric-mixed reward. With ``group_rm`` the reward is a bare float
    (no keys to pick), so slime's eval logs the mixed reward: prefer the per-sample path when eval matters.
    """
    c = cfg or PaperGRPOConfig()
    if group_rm:
        rm = ["--group-rm", "--custom-rm-path", "longtracerl.reward.adapters.slime.group_reward_func"]
    else:
        rm = [
            "--custom-rm-path", "longtracerl.reward.adapters.slime.reward_func",
            "--reward-key", "reward",
            "--eval-reward-key", "outcome_reward",
            "--custom-reward-post-process-path", "longtracerl.reward.adapters.slime.post_process_rewards",
        ]
    return [
        *rm,
        "--advantage-estimator", "grpo",
        "--n-samples-per-prompt", str(c.num_generations),
        "--rollout-batch-size", str(c.prompts_per_step),
        "--rollout-temperature", str(c.temperature),
    ]
