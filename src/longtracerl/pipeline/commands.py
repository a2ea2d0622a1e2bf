"""CLI of the pipeline: ``longtracerl build`` (walk -> questions -> agent -> assembly -> export -> report)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to ``app``."""

    @app.command("build")
    def build(
        config: Path = typer.Option(None, "--config", exists=True, dir_okay=False, help="BuildConfig YAML (examples/)."),
        overrides: list[str] = typer.Option(None, "--set", help="Override any setting: --set assembly.max_tokens=65536."),
        name: str = typer.Option(None, "--name", help="Run name: outputs go to <out>/<name>/ [default]."),
        out: str = typer.Option(None, "--out", help="Parent directory of runs [runs]."),
        llm: str = typer.Option(None, "--llm", help="none | local (bundled model) | openai [none]."),
        base_url: str = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint for --llm openai."),
        model: str = typer.Option(None, "--model", help="Model name (openai) or GGUF path (local)."),
        api_key: str = typer.Option(None, "--api-key", envvar="OPENAI_API_KEY", help="API key for --llm openai."),
        n_chains: int = typer.Option(None, "--n-chains", help="Walks to attempt [40]."),
        max_tokens: int = typer.Option(None, "--max-tokens", help="Context length L in tokens [131072]."),
        executor: str = typer.Option(None, "--executor", help="local | ray [local]."),
        seed: int = typer.Option(None, "--seed", help="Seed of every random choice [0]."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
    ) -> None:
        """Build a long-context RL training set (resumable: rerun the same command after any interruption)."""
        from rich.console import Console

        from longtracerl.config import BuildConfig
        from longtracerl.io import JsonlError
        from longtracerl.pipeline.build import run_build
        from longtracerl.pipeline.context import ConfigMismatch

        console = Console(stderr=True)
        extra = {"name": name, "out": out, "llm.kind": llm, "llm.base_url": base_url, "llm.model": model,
                 "llm.api_key": api_key, "walk.n_chains": n_chains, "assembly.max_tokens": max_tokens,
                 "executor": executor, "seed": seed}
        try:
            cfg = BuildConfig.load(config, overrides, extra)
        except (ValueError, OSError) as e:
            console.print(f"[red]error:[/] bad build config: {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        console.print(f"building [bold]{cfg.run_dir}[/] (resumable: rerun the same command to continue)")
        try:
            ctx = run_build(cfg, progress=not quiet, log=console.print)
        except (ConfigMismatch, JsonlError, FileNotFoundError) as e:
            console.print(f"[red]error:[/] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        d = ctx.dir
        console.print(f"\n[bold]outputs in {d}/[/]")
        for rel in ("config.yaml", "chains.jsonl", "questions.jsonl", "trajectories.jsonl", "samples.jsonl",
                    "rejected.jsonl", "export/slime.jsonl", "export/verl/train.parquet", "export/hf",
                    "report/report.md", "report/index.html"):
            if (d / rel).exists():
                console.print(f"  {d / rel}", highlight=False)
