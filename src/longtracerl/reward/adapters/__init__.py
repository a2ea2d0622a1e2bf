"""Thin adapters that plug the LongTraceRL reward core into RL frameworks.

Each module imports its framework lazily or only when imported itself, so importing this package is cheap:

- ``trl``: a reward callable for ``trl.GRPOTrainer(reward_funcs=[...])``.
- ``verl``: ``compute_score`` for ``custom_reward_function``, the ``longtrace`` reward manager and the
  ``longtrace_grpo`` advantage estimator (the group step: positive-only + rubric normalization per ``uid``).
- ``slime``: ``reward_func`` for ``--custom-rm-path``, ``group_reward_func`` for ``--group-rm`` and
  ``post_process_rewards`` for ``--custom-reward-post-process-path``.
- ``openrlhf``: ``reward_func(queries, prompts, labels)`` for ``--reward.remote_url file.py``.
"""
