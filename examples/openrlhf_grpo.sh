#!/usr/bin/env bash
# OpenRLHF (>= 0.10.2, checked against 0.11.2's own argument parser) GRPO-style run with the LongTraceRL reward.
#   MODEL=Qwen/Qwen3-4B-Thinking-2507 DATA=train.jsonl bash examples/openrlhf_grpo.sh [more flags]
# `longtracerl train openrlhf-args --model M --data D --nnodes 4` prints the same list.
# Before 0.10.2 OpenRLHF spelled the flags --remote_rm_url, --label_key, --n_samples_per_prompt, ...
#
# IMPORTANT: OpenRLHF calls a .py reward ONE RESPONSE AT A TIME, so the LongTraceRL group step never sees a
# group: the rubric is NOT divided by the group max (it enters raw; positive-only still applies) and a
# warning is logged once. For the paper's exact reward use verl (longtrace_grpo), slime or TRL.
# Labels must be JSON strings {"answer": ..., "rubrics": [...], "question": ...}; a plain answer string
# gives the outcome reward alone.
set -euo pipefail
export LONGTRACERL_REWARD_CONFIG=${LONGTRACERL_REWARD_CONFIG:-examples/reward_config.yaml}
export LONGTRACERL_GROUP_SIZE=${LONGTRACERL_GROUP_SIZE:-8}

python -m openrlhf.cli.train_ppo_ray \
  --actor.model_name_or_path "${MODEL:?model}" \
  --actor.num_nodes 1 \
  --actor.num_gpus_per_node 8 \
  --vllm.num_engines 8 \
  --vllm.tensor_parallel_size 1 \
  --train.colocate_all \
  --data.prompt_dataset "${DATA:?data}" \
  --data.input_key input_messages \
  --data.apply_chat_template \
  --data.label_key label \
  --reward.remote_url examples/openrlhf_reward.py \
  --algo.advantage.estimator group_norm \
  --rollout.n_samples_per_prompt 8 \
  --rollout.batch_size 16 \
  --train.batch_size 128 \
  --rollout.temperature 1.0 \
  --data.max_len 163840 \
  --rollout.max_new_tokens 32768 \
  --actor.adam.lr 2e-06 \
  --actor.adam.betas 0.9 0.98 \
  --actor.adam.weight_decay 0.1 \
  --actor.lr_scheduler constant \
  --actor.lr_warmup_ratio 0 \
  --actor.max_norm 1.0 \
  --actor.eps_clip_low_high 0.2 0.28 \
  --actor.loss_agg_mode token-mean \
  --actor.entropy_coef 0.0 \
  --algo.kl.init_coef 0.0 \
  --algo.advantage.is_correction_level token \
  --algo.advantage.is_correction_mode mask \
  --algo.advantage.is_correction_threshold 0.5 2.0 \
  --train.seed 0 \
  "$@"
