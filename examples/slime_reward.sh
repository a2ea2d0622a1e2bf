#!/usr/bin/env bash
# slime arguments for the LongTraceRL reward; add them to your slime launch (train.py / train_async.py).
# Data: the released JSONL (input_messages, label, metadata.extra_reward_info) with
#   --input-key input_messages --label-key label --metadata-key metadata --apply-chat-template
export LONGTRACERL_REWARD_CONFIG=${LONGTRACERL_REWARD_CONFIG:-examples/reward_config.yaml}

# Per-sample reward (released per-request semantics) + group step (positive-only, rubric / group max, GRPO norm).
# Training reads the mixed `reward`; evaluation reads `outcome_reward` (accuracy), not the rubric-mixed reward.
# `longtracerl train slime-args` prints this list.
LONGTRACE_RM_ARGS=(
  --custom-rm-path longtracerl.reward.adapters.slime.reward_func
  --reward-key reward
  --eval-reward-key outcome_reward
  --custom-reward-post-process-path longtracerl.reward.adapters.slime.post_process_rewards
  --advantage-estimator grpo
  --n-samples-per-prompt 8
  --rollout-batch-size 16
  --rollout-temperature 1.0
)

# Alternative: score each prompt's group at once (slime's default GRPO normalization then applies).
# The reward is then a bare float, so slime's eval logs the mixed reward (no outcome key to pick).
LONGTRACE_GROUP_RM_ARGS=(
  --group-rm
  --custom-rm-path longtracerl.reward.adapters.slime.group_reward_func
  --advantage-estimator grpo
  --n-samples-per-prompt 8
)

echo "${LONGTRACE_RM_ARGS[@]}"
