"""Single-node GRPO with TRL on the released (slime) JSONL format and the LongTraceRL reward.

CPU-capable: with a tiny model this runs real optimizer steps on a laptop; on GPUs the same code runs the
paper's recipe (``PaperGRPOConfig``), with vLLM generation if TRL is given ``use_vllm``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from longtracerl.train.grpo_config import PaperGRPOConfig
from longtracerl.train.models import load_model_and_tokenizer

if TYPE_CHECKING:
    from datasets import Dataset

def read_slime_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Rows ``{prompt, label, rubrics, question}`` from the released format; errors name file:line and field.

    Released format: ``{"input_messages": [{"role": "user", "content": ...}], "label": ...,
    "metadata": {"extra_reward_info": {"question": ..., "rubrics": [...]}}}``.
    """
    p = Path(path)
    rows: list[dict[str, Any]] = []
    with p.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{p}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{where}: not valid JSON ({e.msg})") from e
            if not isinstance(obj, dict):
                raise ValueError(f"{where}: expected a JSON object")
            msgs = obj.get("input_messages", obj.get("messages"))
            if not isinstance(msgs, list) or not msgs or not all(
                isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                for m in msgs
            ):
                raise ValueError(f"{where}: field 'input_messages' must be a non-empty list of {{role, content}} messages")
            if "label" not in obj:
                raise ValueError(f"{where}: missing field 'label'")
            info = (obj.get("metadata") or {}).get("extra_reward_info") or {}
            rubrics = info.get("rubrics", obj.get("rubrics", []))
            if not isinstance(rubrics, list) or not all(isinstance(r, str) for r in rubrics):
                raise ValueError(f"{where}: field 'metadata.extra_reward_info.rubrics' must be a list of strings")
            aliases = info.get("rubric_aliases") or {}
            if not isinstance(aliases, dict):
                raise ValueError(f"{where}: field 'metadata.extra_reward_info.rubric_aliases' must be a mapping")
            rows.append({
                "prompt": [{"role": m["role"], "content": m["content"]} for m in msgs],
                "label": str(obj["label"]),
                "rubrics": rubrics,
                "question": str(info.get("question", obj.get("question", ""))),
                # JSON text: Arrow cannot hold mappings whose keys differ per row; the TRL reward parses it
                "aliases": json.dumps(aliases, ensure_ascii=False, sort_keys=True) if aliases else "",
            })
    if not rows:
        raise ValueError(f"{p}: no examples")
    return rows


def load_dataset(path: str | Path) -> Dataset:
    """The JSONL as a HF dataset with a conversational ``prompt`` column and ``label``/``rubrics``/``question``."""
    from datasets import Dataset

    return Dataset.from_list(read_slime_jsonl(path))


def train_grpo(
    dataset_path: str | Path,
    model: Any = None,
    output_dir: str | Path = "grpo-out",
    config: PaperGRPOConfig | None = None,
    *,
    tokenizer: Any = None,
    reward_config: Any = None,
    use_cpu: bool | None = None,
    use_vllm: bool = False,
    per_device_train_batch_size: int | None = None,
    save: bool = True,
    trainer_overrides: dict[str, Any] | None = None,
) -> Any:
    """Run TRL GRPO with the LongTraceRL reward; returns the trainer (its ``state.log_history`` has the logs).

    ``model``: a loaded model (then give ``tokenizer``), a path / hub id, or None for the bundled SmolLM2.
    """
    import torch
    from trl import GRPOConfig, GRPOTrainer

    from longtracerl.reward.adapters.trl import LongTraceTRLReward

    cfg = config or PaperGRPOConfig()
    dataset = load_dataset(dataset_path)  # bad input fails before a model is loaded
    if model is None or isinstance(model, str):
        model, tokenizer = load_model_and_tokenizer(model)
    elif tokenizer is None:
        raise ValueError("give the tokenizer with a loaded model")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    cpu = (not torch.cuda.is_available()) if use_cpu is None else use_cpu
    kwargs = cfg.to_trl_kwargs(per_device_train_batch_size=per_device_train_batch_size, use_vllm=use_vllm)
    kwargs.update(
        output_dir=str(output_dir),
        use_cpu=cpu,
        bf16=False if cpu else kwargs.get("bf16", None) or torch.cuda.is_bf16_supported(),
        save_strategy="steps" if save else "no",
        report_to=[],
        logging_steps=1,
    )
    kwargs.update(trainer_overrides or {})
    reward = LongTraceTRLReward.for_model(
        model, tokenizer, reward_config, num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[cast(Any, reward)],  # a callable; TRL's list type is invariant
        args=GRPOConfig(**kwargs),
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    trainer.train()
    if save:
        trainer.save_model(str(output_dir))
    return trainer
