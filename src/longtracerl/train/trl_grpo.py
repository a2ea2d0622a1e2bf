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

def read_slime_jsonl(path: str | Path, *, require_rubrics: bool = True) -> list[dict[str, Any]]:
    """Rows ``{prompt, label, rubrics, question}`` from the released format; errors name file:line and field.

    ``require_rubrics``: a row without a rubric list is an error (an empty list is allowed: outcome only).

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
            if obj["label"] is None or not str(obj["label"]).strip():
                raise ValueError(f"{where}: field 'label' is empty (the gold answer)")
            meta = obj.get("metadata")
            info = (meta.get("extra_reward_info") if isinstance(meta, dict) else None) or {}
            if require_rubrics and "rubrics" not in info and "rubrics" not in obj:
                raise ValueError(f"{where}: missing field 'metadata.extra_reward_info.rubrics' (the rubric entities)")
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


def resumable_trainer_class() -> Any:
    """TRL's ``GRPOTrainer`` whose prompt order is a function of (seed, epoch) alone.

    TRL's ``RepeatSampler`` draws each epoch's permutation from one generator seeded once; a run resumed in
    epoch k would start that generator afresh and replay epoch 0's order (transformers does not fast-forward
    past finished epochs). Reseeding at ``set_epoch`` (which the trainer calls every epoch) makes a resumed
    run see the prompts in the same order as an uninterrupted one.
    """
    from trl import GRPOTrainer
    from trl.trainer.utils import RepeatSampler

    class EpochSeededRepeatSampler(RepeatSampler):  # type: ignore[misc]
        def set_epoch(self, epoch: int) -> None:
            if self.shuffle:
                self.generator.manual_seed((self.seed or 0) * 1_000_003 + epoch)

    class ResumableGRPOTrainer(GRPOTrainer):  # type: ignore[misc]
        def _get_train_sampler(self, dataset: Any = None) -> Any:
            sampler = super()._get_train_sampler(dataset)
            if type(sampler) is RepeatSampler:
                sampler.__class__ = EpochSeededRepeatSampler
            return sampler

    return ResumableGRPOTrainer


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
    save_every: int = 0,
    resume: str = "auto",
    report_to: str = "none",
    eval_data: str | Path | None = None,
    eval_every: int = 0,
    eval_max_new_tokens: int = 64,
    eval_bench: str | None = None,
    check_lengths: bool = True,
    trainer_overrides: dict[str, Any] | None = None,
) -> Any:
    """Run TRL GRPO with the LongTraceRL reward; returns the trainer (its ``state.log_history`` has the logs).

    ``model``: a loaded model (then give ``tokenizer``), a path / hub id, or None for the bundled SmolLM2.
    Everything that can be wrong with the input (rows, model path, lengths, a resume directory of another
    run) fails before the model is loaded. ``save_every`` N: a checkpoint (weights, optimizer, scheduler, RNG
    states) every N steps; ``resume``: ``auto`` continues from the newest complete checkpoint in
    ``output_dir``, ``never`` refuses a directory with checkpoints, or a checkpoint path. Metrics go to
    ``output_dir/metrics.jsonl`` and ``curves.png``; ``eval_data`` (slime JSONL) is evaluated greedily at
    step 0, every ``eval_every`` steps and at the end. ``eval_bench`` (``in-distribution[,longbench-v2=PATH]``)
    evaluates through the eval module instead, writing ``output_dir/eval/<bench>-step-<N>/`` run directories
    (in-distribution reads ``eval_data``); see ``longtracerl.train.bench_eval``.
    """
    import torch
    from trl import GRPOConfig

    from longtracerl.reward.adapters._common import load_reward_config
    from longtracerl.reward.adapters.trl import LongTraceTRLReward
    from longtracerl.train import checks, run_dir
    from longtracerl.train.callbacks import EvalCallback, MetricsCallback

    cfg = config or PaperGRPOConfig()
    out = Path(output_dir)
    rows = read_slime_jsonl(dataset_path)  # bad input fails before a model is loaded
    eval_rows = read_slime_jsonl(eval_data) if eval_data is not None else []
    bench_specs = None
    if eval_bench:
        from longtracerl.train.bench_eval import check_bench_data, parse_eval_benches

        bench_specs = parse_eval_benches(eval_bench, eval_data)
        check_bench_data(bench_specs)
    rcfg = load_reward_config(reward_config)
    if report_to not in ("none", "tensorboard", "wandb"):
        raise ValueError(f"--report-to {report_to}: expected none, tensorboard or wandb")
    model_name = model if isinstance(model, str) or model is None else None
    if model_name is not None:
        checks.check_model_path(model_name)
    settings = {
        "data": str(Path(dataset_path).resolve()), "data_sha256": run_dir.file_sha256(dataset_path),
        "model": model_name if model_name is not None else type(model).__name__,
        "recipe": cfg.model_dump(exclude={"max_steps"}), "reward": rcfg.model_dump(mode="json"),
        "per_device_train_batch_size": per_device_train_batch_size, "use_vllm": use_vllm,
        "eval_data": str(Path(eval_data).resolve()) if eval_data else None, "eval_every": eval_every,
        **({"eval_bench": [[b.bench, b.data] for b in bench_specs], "eval_max_new_tokens": eval_max_new_tokens}
           if bench_specs else {}),
        "max_steps": cfg.max_steps, "save_every": save_every, "report_to": report_to, "save_final": save,
    }
    checkpoint = run_dir.prepare(out, settings, resume)
    window_for_eval: int | None = None
    if check_lengths:
        if tokenizer is None:
            from longtracerl.train.models import load_tokenizer

            tokenizer = load_tokenizer(model_name)
        counts = checks.prompt_token_counts(rows + eval_rows, tokenizer)
        window = checks.context_window(model_name) if model_name is not None else getattr(
            getattr(model, "config", None), "max_position_embeddings", None)
        window_for_eval = window
        checks.check_lengths(counts, data=dataset_path, window=window, max_prompt_length=cfg.max_prompt_length,
                             max_completion_length=cfg.max_completion_length, model=str(model_name or "given model"))
    if model is None or isinstance(model, str):
        model, tokenizer = load_model_and_tokenizer(model, tokenizer=tokenizer)
    elif tokenizer is None:
        raise ValueError("give the tokenizer with a loaded model")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    cpu = (not torch.cuda.is_available()) if use_cpu is None else use_cpu
    kwargs = cfg.to_trl_kwargs(per_device_train_batch_size=per_device_train_batch_size, use_vllm=use_vllm)
    kwargs.update(
        output_dir=str(out),
        use_cpu=cpu,
        bf16=False if cpu else kwargs.get("bf16", None) or torch.cuda.is_bf16_supported(),
        save_strategy="steps" if save_every > 0 else "no",
        save_steps=save_every if save_every > 0 else 500,
        report_to=[] if report_to == "none" else [report_to],
        logging_steps=1,
    )
    kwargs.update(trainer_overrides or {})
    reward = LongTraceTRLReward.for_model(
        model, tokenizer, rcfg, num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
    )
    metrics = out / run_dir.METRICS_FILE
    run_dir.truncate_metrics(metrics, run_dir.checkpoint_step(checkpoint))
    callbacks: list[Any] = [MetricsCallback(metrics, out / run_dir.CURVES_FILE)]
    if bench_specs:
        from longtracerl.train.bench_eval import BenchEvalCallback

        callbacks.append(BenchEvalCallback(
            bench_specs, tokenizer, out, metrics, eval_every, model_name=str(model_name or type(model).__name__),
            tokenizer_name=model_name if model_name not in (None, "", "bundled") else None,
            max_new_tokens=eval_max_new_tokens, max_context=window_for_eval, seed=cfg.seed))
    elif eval_rows:
        callbacks.append(EvalCallback(eval_rows, tokenizer, metrics, eval_every, rcfg, eval_max_new_tokens))
    from datasets import Dataset

    trainer = resumable_trainer_class()(
        model=model,
        reward_funcs=[cast(Any, reward)],  # a callable; TRL's list type is invariant
        args=GRPOConfig(**kwargs),
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint is not None else None)
    if save:
        trainer.save_model(str(out))
    return trainer
