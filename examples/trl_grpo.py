"""GRPO with TRL and the LongTraceRL reward, on the released JSONL format.

    python examples/trl_grpo.py data/longtrace.jsonl --model Qwen/Qwen3-4B-Thinking-2507 --steps 200

The same as ``longtracerl train grpo``; shown here as code so the reward can be combined with your own.
"""

from __future__ import annotations

import argparse

from trl import GRPOConfig, GRPOTrainer

from longtracerl.reward import RewardConfig
from longtracerl.reward.adapters.trl import LongTraceTRLReward
from longtracerl.train.grpo_config import PaperGRPOConfig
from longtracerl.train.models import load_model_and_tokenizer
from longtracerl.train.trl_grpo import load_dataset


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", help="JSONL in the released format (input_messages, label, metadata.extra_reward_info)")
    ap.add_argument("--model", default="bundled", help="model path / hub id, or 'bundled' (SmolLM2-135M)")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--max-completion-length", type=int, default=32768)
    ap.add_argument("--output-dir", default="grpo-out")
    a = ap.parse_args()

    recipe = PaperGRPOConfig(max_steps=a.steps, max_completion_length=a.max_completion_length)
    model, tokenizer = load_model_and_tokenizer(a.model)
    reward = LongTraceTRLReward.for_model(
        model, tokenizer, RewardConfig(eta=0.3, strategy="positive_only"), num_generations=recipe.num_generations
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[reward],  # logs rewards/longtrace/mean and the outcome / rubric columns
        args=GRPOConfig(output_dir=a.output_dir, report_to=[], logging_steps=1, **recipe.to_trl_kwargs()),
        train_dataset=load_dataset(a.data),  # columns: prompt (chat), label, rubrics, question
        processing_class=tokenizer,
    )
    trainer.train()


if __name__ == "__main__":
    main()
