"""LongTraceRL reward for OpenRLHF: pass this file as ``--reward.remote_url examples/openrlhf_reward.py``
(OpenRLHF >= 0.10.2; ``--remote_rm_url`` before). OpenRLHF calls it one response at a time: see examples/openrlhf_grpo.sh.

Labels (``--data.label_key label``) should be JSON strings ``{"answer": ..., "rubrics": [...], "question": ...}``
so the rubric reward has its entities; a plain answer string gives the outcome reward only.
Settings: ``LONGTRACERL_REWARD_CONFIG=reward.yaml`` (RewardConfig fields), ``LONGTRACERL_GROUP_SIZE=8``
(= ``--n_samples_per_prompt``) to check that each call holds whole groups.
Older OpenRLHF versions that expect a bare tensor: use ``reward_func_tensor`` instead (see the import).
"""

from longtracerl.reward.adapters.openrlhf import reward_func, reward_func_tensor  # noqa: F401

__all__ = ["reward_func"]
