#!/usr/bin/env bash
# verl 0.9.1 GRPO with the LongTraceRL reward: the paper's recipe on one node of 8 GPUs.
#   bash examples/verl_grpo.sh data/train.parquet data/val.parquet Qwen/Qwen3-4B-Thinking-2507 [more overrides]
# `longtracerl train verl-args` prints the same list; `--nnodes 4 --gpus-per-node 8` gives the paper's 32-GPU
# layout (or append trainer.nnodes=4 here). Micro batches: dynamic batch size with one full 128K+32K sequence
# per GPU (verl's validate_config needs micro batch sizes or dynamic batch size for the actor and log-probs).
# The parquet rows need reward_model.ground_truth (the answer) and extra_info.rubrics / extra_info.question.
# The reward manager scores each response; the longtrace_grpo estimator does the group step by uid (it is
# registered in every verl process by the `verl.plugins` entry point of the installed longtracerl package).
set -euo pipefail
TRAIN=${1:?train parquet}; VAL=${2:?val parquet}; MODEL=${3:?model path}
export LONGTRACERL_REWARD_CONFIG=${LONGTRACERL_REWARD_CONFIG:-examples/reward_config.yaml}

python -m verl.trainer.main_ppo \
  data.train_files="$TRAIN" \
  data.val_files="$VAL" \
  actor_rollout_ref.model.path="$MODEL" \
  trainer.nnodes=1 \
  trainer.n_gpus_per_node=8 \
  actor_rollout_ref.actor.use_dynamic_bsz=True \
  actor_rollout_ref.actor.ppo_max_token_len_per_gpu=163840 \
  actor_rollout_ref.rollout.log_prob_use_dynamic_bsz=True \
  actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu=163840 \
  actor_rollout_ref.ref.log_prob_use_dynamic_bsz=True \
  actor_rollout_ref.ref.log_prob_max_token_len_per_gpu=163840 \
  algorithm.adv_estimator=longtrace_grpo \
  algorithm.use_kl_in_reward=False \
  algorithm.norm_adv_by_std_in_grpo=True \
  data.train_batch_size=16 \
  data.max_prompt_length=131072 \
  data.max_response_length=32768 \
  trainer.total_training_steps=200 \
  actor_rollout_ref.rollout.n=8 \
  actor_rollout_ref.rollout.temperature=1.0 \
  actor_rollout_ref.actor.optim.lr=2e-06 \
  actor_rollout_ref.actor.optim.lr_scheduler_type=constant \
  actor_rollout_ref.actor.optim.lr_warmup_steps=0 \
  actor_rollout_ref.actor.optim.weight_decay=0.1 \
  actor_rollout_ref.actor.optim.betas=[0.9,0.98] \
  actor_rollout_ref.actor.grad_clip=1.0 \
  actor_rollout_ref.actor.ppo_mini_batch_size=16 \
  actor_rollout_ref.actor.ppo_epochs=1 \
  actor_rollout_ref.actor.clip_ratio_low=0.2 \
  actor_rollout_ref.actor.clip_ratio_high=0.28 \
  actor_rollout_ref.actor.loss_agg_mode=token-mean \
  actor_rollout_ref.actor.use_kl_loss=False \
  actor_rollout_ref.actor.kl_loss_coef=0.0 \
  actor_rollout_ref.actor.entropy_coeff=0.0 \
  algorithm.rollout_correction.rollout_is=token \
  algorithm.rollout_correction.rollout_is_threshold='0.5_2.0' \
  reward.reward_manager.source=importlib \
  reward.reward_manager.name=LongTraceRewardManager \
  reward.reward_manager.module.path=pkg://longtracerl.reward.adapters.verl \
  "${@:4}"
