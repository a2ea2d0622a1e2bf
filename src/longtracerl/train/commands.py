"""CLI commands of the ``train`` stage: ``longtracerl train grpo | verl-args | recipe``."""

from __future__ import annotations

from pathlib import Path

import typer

train_app = typer.Typer(help="GRPO training with the LongTraceRL reward (TRL on one node; verl settings).",
                        no_args_is_help=True)


@train_app.command("grpo")
def grpo(
    data: Path = typer.Option(..., "--data", exists=True, dir_okay=False, help="Training JSONL (released slime format)."),
    model: str = typer.Option("bundled", "--model", help="Model path / hub id, or 'bundled' (SmolLM2-135M GGUF)."),
    output_dir: Path = typer.Option(Path("grpo-out"), "--output-dir", help="Checkpoints, metrics.jsonl, curves.png."),
    max_steps: int = typer.Option(200, "--max-steps", help="Optimizer steps (paper: 200)."),
    num_generations: int = typer.Option(8, "--num-generations", help="Responses per prompt, G (paper: 8)."),
    prompts_per_step: int = typer.Option(16, "--prompts-per-step", help="Prompts per step (paper: 16)."),
    max_completion_length: int = typer.Option(32768, "--max-completion-length", help="Response token budget (paper: 32768)."),
    max_prompt_length: int = typer.Option(131072, "--max-prompt-length", help="Longest prompt allowed (paper: 131072)."),
    learning_rate: float = typer.Option(2e-6, "--lr", help="Constant learning rate (paper: 2e-6)."),
    per_device_batch: int = typer.Option(0, "--per-device-batch", help="Per-device micro batch (0: G)."),
    reward_config: Path | None = typer.Option(None, "--reward-config", exists=True, dir_okay=False,
                                              help="YAML/JSON RewardConfig (eta, strategy, outcome judge ...)."),
    use_vllm: bool = typer.Option(False, "--vllm", help="Generate with vLLM (enables the importance correction)."),
    save: bool = typer.Option(True, "--save/--no-save", help="Save the trained model to --output-dir."),
    preset: str = typer.Option(None, "--preset", help="default | paper: the paper's reward (judge outcome, released "
                               "format gate, reference rubric); the GRPO defaults are the paper's either way."),
    judge_base_url: str = typer.Option(None, "--judge-base-url", help="OpenAI-compatible judge endpoint."),
    judge_model: str = typer.Option(None, "--judge-model", help="Judge model name."),
    judge_prompt_file: Path | None = typer.Option(None, "--judge-prompt-file", help="Judge template file "
                                                  "({question} {response} {correct_answer})."),
    save_every: int = typer.Option(0, "--save-every", help="Checkpoint (weights, optimizer, RNG) every N steps; 0: none."),
    resume: str = typer.Option("auto", "--resume",
                               help="auto: continue from the newest checkpoint in --output-dir; never; or a checkpoint dir."),
    report_to: str = typer.Option("none", "--report-to", help="none | tensorboard | wandb (metrics.jsonl is always written)."),
    eval_data: Path | None = typer.Option(None, "--eval-data", exists=True, dir_okay=False,
                                          help="Held-out slime JSONL (e.g. export/slime_test.jsonl), scored greedily."),
    eval_every: int = typer.Option(0, "--eval-every", help="Evaluate every N steps (and at start and end)."),
    eval_bench: str = typer.Option(None, "--eval-bench", help="Evaluate through the eval module: in-distribution "
                                   "(reads --eval-data)[,mrcr|longbench-v2|longreason[=DATA]]; one eval run directory "
                                   "per benchmark and checkpoint in OUTPUT_DIR/eval/ (for `longtracerl eval compare`)."),
    eval_max_new_tokens: int = typer.Option(64, "--eval-max-new-tokens", help="Greedy answer budget for evaluation."),
    seed: int = typer.Option(0, "--seed", help="Seed of sampling and data order."),
) -> None:
    """Run GRPO with TRL and the LongTraceRL reward (CPU works with small models); resumes after a kill."""
    from rich.console import Console

    from longtracerl.presets import preset_values, print_table, settings_table
    from longtracerl.reward.commands import reward_config_from
    from longtracerl.train.grpo_config import PaperGRPOConfig
    from longtracerl.train.trl_grpo import train_grpo

    console = Console()
    try:
        reward_cfg = reward_config_from(reward_config, {
            "preset": preset, "judge.base_url": judge_base_url, "judge.model": judge_model,
            "judge.prompt_file": str(judge_prompt_file) if judge_prompt_file else None})
        cfg = PaperGRPOConfig.model_validate({
            **preset_values("grpo", preset or "default"),
            "max_steps": max_steps, "num_generations": num_generations, "prompts_per_step": prompts_per_step,
            "max_completion_length": max_completion_length, "max_prompt_length": max_prompt_length,
            "learning_rate": learning_rate, "seed": seed})
        cfg.to_trl_kwargs(per_device_train_batch_size=per_device_batch or None, use_vllm=use_vllm)  # layout check
        if eval_bench:
            from longtracerl.train.bench_eval import parse_eval_benches

            parse_eval_benches(eval_bench, eval_data)  # a bad name fails here, before the settings table
    except ValueError as e:
        console.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    print_table(settings_table(reward=reward_cfg, grpo=cfg),
                f"training settings vs the paper (preset: {preset or 'default'})", Console(stderr=True))
    for note in cfg.unsupported_in("trl", use_vllm=use_vllm):
        console.print(f"[yellow]not in TRL:[/yellow] {note}")
    try:
        trainer = train_grpo(
            data, model, output_dir, cfg, reward_config=reward_cfg, use_vllm=use_vllm,
            per_device_train_batch_size=per_device_batch or None, save=save, save_every=save_every,
            resume=resume, report_to=report_to, eval_data=eval_data, eval_every=eval_every,
            eval_max_new_tokens=eval_max_new_tokens, eval_bench=eval_bench,
        )
    except (ValueError, FileNotFoundError) as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from e
    steps = [h for h in trainer.state.log_history if "reward" in h]
    if steps:
        last = steps[-1]
        console.print(f"done: {trainer.state.global_step} steps, last mean reward {last['reward']:.4f}")
    console.print(f"metrics: {output_dir / 'metrics.jsonl'}  curves: {output_dir / 'curves.png'}")
    if eval_bench:
        from longtracerl.train.bench_eval import compare_commands

        for cmd in compare_commands(output_dir):
            console.print(f"base vs trained: {cmd}", highlight=False, soft_wrap=True)


@train_app.command("verl-args")
def verl_args(
    max_steps: int = typer.Option(200, "--max-steps"),
    num_generations: int = typer.Option(8, "--num-generations"),
    prompts_per_step: int = typer.Option(16, "--prompts-per-step"),
    nnodes: int = typer.Option(1, "--nnodes", help="Nodes (trainer.nnodes)."),
    gpus_per_node: int = typer.Option(8, "--gpus-per-node", help="GPUs per node (trainer.n_gpus_per_node)."),
    micro_batch_per_gpu: int = typer.Option(0, "--micro-batch-per-gpu",
                                            help="Fixed micro batches per GPU; 0: dynamic batch size (default)."),
    max_prompt_length: int = typer.Option(131072, "--max-prompt-length",
                                          help="data.max_prompt_length: the L the data was built with (paper: 131072)."),
) -> None:
    """Print the paper's recipe as hydra overrides for ``python -m verl.trainer.main_ppo``."""
    from longtracerl.train.grpo_config import PaperGRPOConfig

    cfg = PaperGRPOConfig(max_steps=max_steps, num_generations=num_generations, prompts_per_step=prompts_per_step,
                          max_prompt_length=max_prompt_length)
    for line in cfg.to_verl_overrides(nnodes=nnodes, gpus_per_node=gpus_per_node, micro_batch_per_gpu=micro_batch_per_gpu):
        typer.echo(line)


@train_app.command("openrlhf-args")
def openrlhf_args_cmd(
    model: str = typer.Option("MODEL", "--model"),
    data: str = typer.Option("train.jsonl", "--data"),
    nnodes: int = typer.Option(1, "--nnodes"),
    gpus_per_node: int = typer.Option(8, "--gpus-per-node"),
) -> None:
    """Print arguments for ``python -m openrlhf.cli.train_ppo_ray`` (OpenRLHF >= 0.10.2 flag names)."""
    import shlex

    from longtracerl.train.recipes import openrlhf_args

    typer.echo(shlex.join(openrlhf_args(model=model, data=data, nnodes=nnodes, gpus_per_node=gpus_per_node)))


@train_app.command("slime-args")
def slime_args_cmd(group_rm: bool = typer.Option(False, "--group-rm", help="Score whole groups (slime --group-rm).")) -> None:
    """Print slime arguments for the LongTraceRL reward (eval reads the outcome)."""
    import shlex

    from longtracerl.train.recipes import slime_args

    typer.echo(shlex.join(slime_args(group_rm=group_rm)))


@train_app.command("recipe")
def recipe() -> None:
    """Print the paper's GRPO hyperparameters (PAPER.md 4) as JSON."""
    from longtracerl.train.grpo_config import PaperGRPOConfig

    typer.echo(PaperGRPOConfig().model_dump_json(indent=2))


def register(app: typer.Typer) -> None:
    """Add the ``train`` command group to ``app``."""
    app.add_typer(train_app, name="train")
