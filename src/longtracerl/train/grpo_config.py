"""The paper's GRPO recipe (PAPER.md 4) as one model, with converters to TRL and verl settings.

What a framework cannot express is said next to the converter, and listed by ``unsupported_in``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class PaperGRPOConfig(BaseModel):
    """GRPO hyperparameters of LongTraceRL; the defaults are the paper's."""

    model_config = ConfigDict(extra="forbid")

    # optimizer
    learning_rate: float = 2e-6
    lr_scheduler: Literal["constant"] = "constant"
    warmup_steps: int = 0  # (unstated) none
    weight_decay: float = 0.1
    adam_beta1: float = 0.9
    adam_beta2: float = 0.98
    max_grad_norm: float = 1.0  # (unstated) the usual default
    # batch: 16 prompts x 8 responses = 128, one optimizer update per rollout
    num_generations: int = Field(8, ge=2)
    prompts_per_step: int = Field(16, ge=1)
    max_steps: int = 200
    # policy loss
    epsilon_low: float = 0.2
    epsilon_high: float = 0.28
    token_level_loss: bool = True
    beta: float = 0.0  # no KL
    entropy_coef: float = 0.0  # no entropy bonus
    adv_epsilon: float = 1e-6  # (r - mean) / (std + eps)
    # rollout
    temperature: float = 1.0
    max_prompt_length: int = 131072
    max_completion_length: int = 32768
    # per-token importance correction between rollout and trainer log-probs: mask outside [min, max]
    is_correction: bool = True
    is_min: float = 0.5
    is_max: float = 2.0
    seed: int = 0

    @property
    def completions_per_step(self) -> int:
        return self.num_generations * self.prompts_per_step

    # ------------------------------------------------------------------ TRL

    def to_trl_kwargs(
        self,
        *,
        num_processes: int = 1,
        per_device_train_batch_size: int | None = None,
        use_vllm: bool = False,
    ) -> dict[str, Any]:
        """Keyword arguments for ``trl.GRPOConfig`` (TRL 1.16).

        One generation batch of ``prompts_per_step * num_generations`` completions per optimizer step:
        ``steps_per_generation`` equals ``gradient_accumulation_steps`` (TRL's default), one iteration.
        ``loss_type="dapo"`` normalizes token losses by the active tokens of the whole accumulated batch
        (token-level). Not expressible in TRL: the advantage epsilon (TRL adds 1e-4, the paper 1e-6), and
        the importance correction exists only with vLLM generation (``use_vllm=True``), as TRL's
        ``token_mask`` mode with bounds [0.5, 2.0].
        """
        total = self.completions_per_step
        pdbs = per_device_train_batch_size or self.num_generations
        if total % (pdbs * num_processes):
            raise ValueError(
                f"{total} completions per step is not a multiple of per_device_train_batch_size ({pdbs}) x "
                f"processes ({num_processes})"
            )
        accum = total // (pdbs * num_processes)
        local = pdbs * accum  # completions one process generates and scores per step
        if local % self.num_generations:
            raise ValueError(
                f"each of the {num_processes} processes would score {local} completions per step, not a multiple "
                f"of the group size {self.num_generations}: a prompt's group would be split across processes and "
                f"the group step (rubric / group max) would see part of it; make prompts_per_step "
                f"({self.prompts_per_step}) a multiple of the number of processes ({num_processes})"
            )
        kw: dict[str, Any] = {
            "learning_rate": self.learning_rate,
            "lr_scheduler_type": self.lr_scheduler,
            "warmup_steps": self.warmup_steps,
            "weight_decay": self.weight_decay,
            "adam_beta1": self.adam_beta1,
            "adam_beta2": self.adam_beta2,
            "max_grad_norm": self.max_grad_norm,
            "num_generations": self.num_generations,
            "per_device_train_batch_size": pdbs,
            "gradient_accumulation_steps": accum,
            "steps_per_generation": accum,
            "num_iterations": 1,
            "max_steps": self.max_steps,
            "epsilon": self.epsilon_low,
            "epsilon_high": self.epsilon_high,
            "loss_type": "dapo" if self.token_level_loss else "grpo",
            "beta": self.beta,
            "entropy_coef": self.entropy_coef,
            "scale_rewards": "group",
            "temperature": self.temperature,
            "max_completion_length": self.max_completion_length,
            "seed": self.seed,
        }
        if use_vllm:
            kw.update(
                use_vllm=True,
                vllm_importance_sampling_correction=self.is_correction,
                vllm_importance_sampling_mode="token_mask",
                vllm_importance_sampling_clip_min=self.is_min,
                vllm_importance_sampling_clip_max=self.is_max,
            )
        return kw

    # ------------------------------------------------------------------ verl

    def to_verl_overrides(
        self,
        *,
        reward_manager: bool = True,
        nnodes: int = 1,
        gpus_per_node: int = 8,
        micro_batch_per_gpu: int = 0,
    ) -> list[str]:
        """Hydra overrides for ``python -m verl.trainer.main_ppo`` (verl 0.9.1 ``ppo_trainer`` config).

        ``algorithm.adv_estimator=longtrace_grpo`` is the LongTraceRL group step + GRPO (its epsilon is
        verl's 1e-6, as the paper). The importance correction is verl's token-level IcePop
        (``rollout_is=token``, weights outside ``[is_min, is_max]`` zeroed). ``ppo_mini_batch_size`` equals
        the prompt batch so there is one update per rollout.

        Micro batches: verl's ``validate_config`` needs either a micro batch size per GPU or dynamic batch
        size for the actor update and for the rollout / reference log-prob passes. By default (``0``) we use
        dynamic batch size with a token budget of one full sequence (prompt + response) per GPU, which
        suits 128K + 32K sequences; ``micro_batch_per_gpu=N`` sets fixed micro batches instead (then verl
        also requires ``prompts_per_step * num_generations`` to be a multiple of the GPU count).
        """
        a = "actor_rollout_ref.actor"
        if micro_batch_per_gpu:
            batching = [
                f"{a}.use_dynamic_bsz=False",
                f"{a}.ppo_micro_batch_size_per_gpu={micro_batch_per_gpu}",
                f"actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu={micro_batch_per_gpu}",
                f"actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu={micro_batch_per_gpu}",
            ]
        else:
            tokens = self.max_prompt_length + self.max_completion_length
            batching = [
                f"{a}.use_dynamic_bsz=True",
                f"{a}.ppo_max_token_len_per_gpu={tokens}",
                "actor_rollout_ref.rollout.log_prob_use_dynamic_bsz=True",
                f"actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu={tokens}",
                "actor_rollout_ref.ref.log_prob_use_dynamic_bsz=True",
                f"actor_rollout_ref.ref.log_prob_max_token_len_per_gpu={tokens}",
            ]
        out = [
            f"trainer.nnodes={nnodes}",
            f"trainer.n_gpus_per_node={gpus_per_node}",
            *batching,
            "algorithm.adv_estimator=longtrace_grpo",
            "algorithm.use_kl_in_reward=False",
            "algorithm.norm_adv_by_std_in_grpo=True",
            f"data.train_batch_size={self.prompts_per_step}",
            f"data.max_prompt_length={self.max_prompt_length}",
            f"data.max_response_length={self.max_completion_length}",
            f"trainer.total_training_steps={self.max_steps}",
            f"actor_rollout_ref.rollout.n={self.num_generations}",
            f"actor_rollout_ref.rollout.temperature={self.temperature}",
            f"{a}.optim.lr={self.learning_rate}",
            f"{a}.optim.lr_scheduler_type={self.lr_scheduler}",
            f"{a}.optim.lr_warmup_steps={self.warmup_steps}",
            f"{a}.optim.weight_decay={self.weight_decay}",
            f"{a}.optim.betas=[{self.adam_beta1},{self.adam_beta2}]",
            f"{a}.grad_clip={self.max_grad_norm}",
            f"{a}.ppo_mini_batch_size={self.prompts_per_step}",
            f"{a}.ppo_epochs=1",
            f"{a}.clip_ratio_low={self.epsilon_low}",
            f"{a}.clip_ratio_high={self.epsilon_high}",
            f"{a}.loss_agg_mode={'token-mean' if self.token_level_loss else 'seq-mean-token-mean'}",
            f"{a}.use_kl_loss={self.beta > 0}",
            f"{a}.kl_loss_coef={self.beta}",
            f"{a}.entropy_coeff={self.entropy_coef}",
            f"data.seed={self.seed}",
        ]
        if self.is_correction:
            out += [
                "algorithm.rollout_correction.rollout_is=token",
                f"algorithm.rollout_correction.rollout_is_threshold='{self.is_min}_{self.is_max}'",
            ]
        if reward_manager:
            out += [
                "reward.reward_manager.source=importlib",
                "reward.reward_manager.name=LongTraceRewardManager",
                "reward.reward_manager.module.path=pkg://longtracerl.reward.adapters.verl",
            ]
        return out

    def unsupported_in(self, framework: Literal["trl", "verl"], *, use_vllm: bool = False) -> list[str]:
        """Settings of the recipe the framework cannot express exactly."""
        if framework == "trl":
            out = [f"advantage epsilon {self.adv_epsilon} (TRL uses 1e-4)"]
            if self.is_correction and not use_vllm:
                out.append("importance correction (TRL applies it only with vLLM generation)")
            return out
        return []
