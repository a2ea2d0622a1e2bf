"""CLI of the synthesis stage: ``questions`` (chains -> validated questions)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to ``app``."""

    @app.command("questions")
    def questions(
        chains: Path = typer.Option(..., "--chains", exists=True, dir_okay=False, help="Chains JSONL (`longtracerl walk`)."),
        out: Path = typer.Option(Path("questions.jsonl"), "--out", help="Questions JSONL (appended; reruns resume)."),
        rejects: Path = typer.Option(None, "--rejects", help="Rejections JSONL (default: <out>.rejected.jsonl)."),
        llm: str = typer.Option("template", "--llm", help="template | local | openai."),
        base_url: str = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint for --llm openai."),
        model: str = typer.Option(None, "--model", help="Model name (openai) or GGUF path (local)."),
        api_key: str = typer.Option(None, "--api-key", envvar="OPENAI_API_KEY", help="API key for --llm openai."),
        docstore: Path = typer.Option(None, "--docstore", help="DocStore directory (default: the sample world)."),
        graph: Path = typer.Option(None, "--graph", help="Graph directory: each hop's candidates (default: the "
                                   "sample world's graph when the docstore is the sample world's)."),
        index: Path = typer.Option(None, "--index", help="Search index of the docstore: corpus IDF, weak/unique "
                                   "clues and the shortcut check (default: the sample world's)."),
        jump_mode: str = typer.Option("restart", "--jump-mode", help="restart | cut: how a jumped hop is written."),
        shortcut: str = typer.Option("reject", "--shortcut", help="reject | keep: a question one search answers."),
        concurrency: int = typer.Option(8, help="Chains in flight."),
        attempts: int = typer.Option(3, help="LLM attempts per chain."),
    ) -> None:
        """Write one obfuscated multi-hop question per chain; failures go to the rejects file with a reason."""
        import asyncio

        from longtracerl.corpus.docstore import DocStore
        from longtracerl.corpus.search import TantivySearch
        from longtracerl.graph.store import Graph
        from longtracerl.io import read_records
        from longtracerl.records import Chain
        from longtracerl.synth.questions import (
            LLMQuestionWriter,
            TemplateQuestionWriter,
            ValidationConfig,
            write_questions,
        )
        from longtracerl.synth.questions.clues import ClueContext
        from longtracerl.synth.questions.runner import QuestionWriter

        if jump_mode not in ("restart", "cut") or shortcut not in ("reject", "keep"):
            raise typer.BadParameter("--jump-mode is restart|cut and --shortcut is reject|keep")
        if docstore is None:
            from longtracerl.corpus.sample_world import ensure_sample_world
            from longtracerl.graph.sample import ensure_sample_graph

            sw = ensure_sample_world()
            docstore, index = Path(sw.docstore_dir), index or Path(sw.index_dir)
            graph = graph or ensure_sample_graph()
        store = DocStore.open(docstore)
        clues = ClueContext(store, Graph.load(graph) if graph else None,
                            TantivySearch.load(index, store) if index else None)
        if llm == "template":
            writer: QuestionWriter = TemplateQuestionWriter(clues, jump_mode=jump_mode)  # type: ignore[arg-type]
        else:
            from longtracerl.llm import make_llm

            writer = LLMQuestionWriter(make_llm(llm, base_url=base_url, model=model, api_key=api_key))
        rej = rejects or out.with_suffix(".rejected.jsonl")
        stats = asyncio.run(write_questions(read_records(chains, Chain), store, writer, out, rej,
                                            concurrency=concurrency, max_attempts=attempts, clues=clues,
                                            validation=ValidationConfig(shortcut=shortcut)))  # type: ignore[arg-type]
        typer.echo(f"{stats.accepted} questions -> {out}; {stats.rejected} rejected -> {rej} {stats.reasons}; "
                   f"{stats.skipped_done} already done; {stats.llm_calls} LLM calls")
