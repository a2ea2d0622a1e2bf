"""CLI of the pipeline: ``longtracerl build`` (walk -> questions -> agent -> assembly -> export -> report) and
``longtracerl assemble --from`` (assembly -> export -> report again at other lengths)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from longtracerl.config import BuildConfig


def register(app: typer.Typer) -> None:
    """Add this stage's commands to ``app``."""

    @app.command("build")
    def build(
        config: Path = typer.Option(None, "--config", exists=True, dir_okay=False, help="BuildConfig YAML (examples/)."),
        overrides: list[str] = typer.Option(None, "--set", help="Override any setting: --set assembly.max_tokens=65536."),
        name: str = typer.Option(None, "--name", help="Run name: outputs go to <out>/<name>/ [default]."),
        out: str = typer.Option(None, "--out", help="Parent directory of runs [runs]."),
        llm: str = typer.Option(None, "--llm", help="none | local (bundled model) | openai [none]."),
        base_url: list[str] = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint for --llm openai; "
                                           "repeat it for a pool of endpoints (least-outstanding routing)."),
        model: str = typer.Option(None, "--model", help="Model name (openai) or GGUF path (local)."),
        api_key: str = typer.Option(None, "--api-key", envvar="OPENAI_API_KEY", help="API key for --llm openai."),
        n_chains: int = typer.Option(None, "--n-chains", help="Walks to attempt [40]."),
        max_tokens: int = typer.Option(None, "--max-tokens", help="Context length L in tokens [131072]."),
        executor: str = typer.Option(None, "--executor", help="local | ray [local]."),
        ray_address: str = typer.Option(None, "--ray-address", help="Join this Ray cluster (HOST:6379, ray://HOST:10001, "
                                        "auto) instead of starting one; implies --executor ray [$RAY_ADDRESS]."),
        seed: int = typer.Option(None, "--seed", help="Seed of every random choice [0]."),
        preset: str = typer.Option(None, "--preset", help="default | paper: the paper's settings (PAPER.md 2); "
                                   "YAML keys, flags and --set still win. See docs/settings.md."),
        tokenizer: str = typer.Option(None, "--tokenizer", help="HF tokenizer dir or Hub id counting L "
                                      "(the trained model's) [bundled]."),
        judge_prompt_file: str = typer.Option(None, "--judge-prompt-file", help="Judge template for the solve "
                                              "filter ({question} {response} {correct_answer})."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Rehearse: every LLM role played by a twin (serve-twin), "
                                     "the whole build into a scratch directory, then the cost of the real run."),
        twin_url: str = typer.Option(None, "--twin-url", help="With --dry-run: a running serve-twin (.../v1) instead "
                                     "of one started here (needed when Ray workers run on other machines)."),
        twin_token: str = typer.Option(None, "--twin-token", envvar="LONGTRACERL_TWIN_TOKEN",
                                       help="With --twin-url: its bearer token."),
        capacity: int = typer.Option(32, "--capacity", help="With --dry-run: sequences your endpoint runs at once "
                                     "(vLLM max_num_seqs x replicas) for the wall-time forecast."),
        latency: list[str] = typer.Option(None, "--latency", help="With --dry-run: ROLE=SECONDS per call of your model "
                                          "(chooser, writer, agent, judge) [0.3, 3, 1.5, 0.4: a 30B-class model]."),
        scratch: Path = typer.Option(None, "--scratch", help="With --dry-run: parent of the scratch run directory "
                                     "[a new temporary directory]."),
    ) -> None:
        """Build a long-context RL training set (resumable: rerun the same command after any interruption)."""
        from rich.console import Console

        from longtracerl.config import BuildConfig
        from longtracerl.io import JsonlError
        from longtracerl.pipeline.build import check_build, run_build
        from longtracerl.pipeline.context import ConfigMismatch
        from longtracerl.pipeline.ray_cluster import RayConnectError
        from longtracerl.presets import print_table, settings_table

        console = Console(stderr=True)
        urls = base_url[0] if base_url and len(base_url) == 1 else (list(base_url) if base_url else None)
        extra = {"name": name, "out": out, "llm.kind": llm, "llm.base_url": urls, "llm.model": model,
                 "llm.api_key": api_key, "walk.n_chains": n_chains, "assembly.max_tokens": max_tokens,
                 "executor.kind": executor or ("ray" if ray_address else None),
                 "executor.ray.address": ray_address, "seed": seed, "preset": preset, "assembly.tokenizer": tokenizer,
                 "outcome.judge_prompt_file": judge_prompt_file}
        try:
            cfg = BuildConfig.load(config, overrides, extra)
        except (ValueError, OSError) as e:
            console.print(f"[red]error:[/] bad build config: {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        if dry_run:
            _dry_run(cfg, console, twin_url=twin_url, token=twin_token, capacity=capacity, latency=latency,
                     scratch=scratch, quiet=quiet)
            return
        try:
            check_build(cfg)
        except ValueError as e:  # PresetError, or a bad judge prompt file
            console.print(f"[red]error:[/] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        if cfg.executor.kind == "ray":  # an unreachable cluster is one line, before anything is written
            from longtracerl.pipeline.ray_cluster import check_reachable, resolve_address

            address = resolve_address(cfg.executor.ray)
            try:
                if address is not None:
                    check_reachable(address, cfg.executor.ray.connect_timeout)
            except RayConnectError as e:
                console.print(f"[red]error:[/] {e}", highlight=False, soft_wrap=True)
                raise typer.Exit(1) from None
        if not quiet:
            print_table(settings_table(build=cfg), f"build settings vs the paper (preset: {cfg.preset})", console)
        console.print(f"building [bold]{cfg.run_dir}[/] (resumable: rerun the same command to continue)")
        try:
            ctx = run_build(cfg, progress=not quiet, log=console.print)
        except (ConfigMismatch, JsonlError, FileNotFoundError, RayConnectError) as e:
            console.print(f"[red]error:[/] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        d = ctx.dir
        console.print(f"\n[bold]outputs in {d}/[/]")
        for rel in ("config.yaml", "chains.jsonl", "questions.jsonl", "trajectories.jsonl", "samples.jsonl",
                    "rejected.jsonl", "export/slime.jsonl", "export/verl/train.parquet", "export/hf",
                    "report/report.md", "report/index.html"):
            if (d / rel).exists():
                console.print(f"  {d / rel}", highlight=False)

    @app.command("assemble")
    def assemble(
        source: Path = typer.Option(..., "--from", exists=True, file_okay=False,
                                    help="A build's run directory (finished, or past its agent stage)."),
        max_tokens: list[int] = typer.Option(..., "--max-tokens", help="Context length L; repeat it for several "
                                             "(one run each: <from>-16k, <from>-32k, ...)."),
        tokenizer: str = typer.Option(None, "--tokenizer", help="HF tokenizer dir or Hub id counting L (default: the source's)."),
        name: str = typer.Option(None, "--name", help="Run name (one L) or name prefix (several) [<from>-<L>]."),
        out: str = typer.Option(None, "--out", help="Parent directory of the new runs (default: the source's)."),
        overrides: list[str] = typer.Option(None, "--set", help="assembly.*, distractors.*, export.*, executor.* "
                                            "only: --set assembly.fill=none."),
        curriculum: str = typer.Option(None, "--curriculum", help="Also write one length-curriculum dataset: "
                                       "'equal' (the same share at each L, short to long) or a YAML schedule."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
    ) -> None:
        """Reassemble a build at other context lengths (or another tokenizer) without any LLM call: only
        assembly, export and the report run (resumable: rerun the same command after any interruption)."""
        from rich.console import Console

        from longtracerl.io import JsonlError
        from longtracerl.pipeline.assemble import AssembleError, assemble_from
        from longtracerl.pipeline.context import ConfigMismatch
        from longtracerl.pipeline.curriculum import CurriculumError, load_schedule, write_curriculum

        console = Console(stderr=True)
        try:
            schedule = load_schedule(curriculum, max_tokens) if curriculum else None
            ctxs = assemble_from(source, max_tokens, name=name, out=out, tokenizer=tokenizer,
                                 overrides=overrides or [], progress=not quiet, log=console.print)
            cur = write_curriculum(ctxs, schedule, log=console.print) if schedule is not None else None
        except (AssembleError, CurriculumError, ConfigMismatch, JsonlError, FileNotFoundError, ValueError) as e:
            console.print(f"[red]error:[/] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        for ctx in ctxs:
            console.print(f"  {ctx.dir}/ (samples.jsonl, export/, report/index.html)", highlight=False)
        if cur is not None:
            console.print(f"  {cur}/ (the length curriculum)", highlight=False)


def _dry_run(cfg: BuildConfig, console: Console, *, twin_url: str | None, token: str | None, capacity: int,
             latency: list[str] | None, scratch: Path | None, quiet: bool) -> None:
    """``build --dry-run``: the build against a twin in a scratch directory, then the cost tables."""
    import json

    from longtracerl.io import JsonlError
    from longtracerl.pipeline.context import ConfigMismatch
    from longtracerl.twin.commands import parse_pairs
    from longtracerl.twin.dry_run import dry_run, print_forecast

    lat = parse_pairs(latency, "--latency")
    try:
        fc, run_dir = dry_run(cfg, twin_url=twin_url, token=token, capacity=capacity, latency=lat,
                              scratch=scratch, progress=not quiet, log=console.print)
    except (ConfigMismatch, JsonlError, FileNotFoundError, ValueError, OSError) as e:
        console.print(f"[red]error:[/] {e}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    print_forecast(fc, console)
    (run_dir / "dry_run.json").write_text(json.dumps(fc, indent=2))
    console.print(f"scratch run (samples, report, dry_run.json): {run_dir}", highlight=False)
