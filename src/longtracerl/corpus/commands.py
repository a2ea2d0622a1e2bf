"""CLI of the corpus stage: ingest, index, search, open, serve-search (all default to the sample world)."""

from __future__ import annotations

from pathlib import Path

import typer

corpus_app = typer.Typer(help="Ingest corpora (KILT, generic JSONL/parquet, HotpotQA/2Wiki context, MuSiQue).",
                         no_args_is_help=True)


def _world_dirs(corpus: Path | None, index: Path | None) -> tuple[Path, Path]:
    """DocStore and index directories: given ones, else the bundled sample world's (built on first use)."""
    if corpus is not None:
        return corpus, index if index is not None else corpus / "index"
    if index is not None:
        from longtracerl.corpus.search import index_docstore_dir

        found = index_docstore_dir(index)
        if found is None:
            raise typer.BadParameter(f"cannot tell which DocStore {index} was built from; pass --corpus DIR",
                                     param_hint="--index")
        return found, index
    from longtracerl.corpus.sample_world import ensure_sample_world

    w = ensure_sample_world()
    return w.docstore_dir, index if index is not None else w.index_dir


def _backend(corpus: Path | None, index: Path | None, *, analyzer: str | None = None,  # type: ignore[no-untyped-def]
             embed_url: str | None = None, dense_weight: float | None = None):
    """The backend the index was built as (BM25, dense or hybrid); bad settings end with a one-line error."""
    from longtracerl.corpus.analyzers import AnalyzerMismatch
    from longtracerl.corpus.dense import DenseIndexError
    from longtracerl.corpus.embeddings import EmbeddingError
    from longtracerl.corpus.indexes import open_search

    c, i = _world_dirs(corpus, index)
    try:
        return open_search(i, c, analyzer=analyzer, embed_url=embed_url, dense_weight=dense_weight)
    except (AnalyzerMismatch, DenseIndexError, EmbeddingError, FileNotFoundError, ValueError) as e:
        typer.secho(f"error: {e}", fg="red", err=True)
        raise typer.Exit(1) from None


_ANALYZER_HELP = "Analyzer: english (default: stemming + stopwords), raw (none; other scripts), or a language."
_EMBED_URL_HELP = "OpenAI-compatible embeddings endpoint, e.g. http://127.0.0.1:8080/v1 (dense/hybrid)."


@corpus_app.command("ingest")
def ingest(
    files: list[Path] = typer.Argument(None, exists=True, dir_okay=False,
                                       help="Corpus files (none: build the bundled sample world)."),
    out: Path = typer.Option(None, "--out", "-o", help="DocStore directory to create or append to."),
    fmt: str = typer.Option("auto", "--format", help="auto | kilt | generic | context | musique."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip malformed records (counted) instead of stopping."),
) -> None:
    """Stream files into a DocStore (pages with the same title are merged and counted; rerunning is safe)."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from longtracerl.corpus.docstore import DocStore, DuplicateTitleError
    from longtracerl.corpus.ingest import ingest_files
    from longtracerl.corpus.readers import CorpusFormatError

    if fmt not in ("auto", "kilt", "generic", "context", "musique"):
        raise typer.BadParameter(f"unknown format {fmt!r}", param_hint="--format")
    console = Console(stderr=True)
    if not files:
        from longtracerl.corpus.sample_world import ensure_sample_world

        w = ensure_sample_world()
        typer.echo(f"no files given: the bundled sample world ({w.n_docs} CIA World Factbook pages) is ingested "
                   f"and indexed at {w.docstore_dir}")
        return
    if out is None:
        raise typer.BadParameter("where should the DocStore go?", param_hint="--out")
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} docs"),
                      TimeElapsedColumn(), console=console) as bar:
            tasks: dict[Path, TaskID] = {}

            def progress(f: Path, n: int) -> None:
                if f not in tasks:
                    tasks[f] = bar.add_task(f"ingesting {f.name}", total=None)
                bar.update(tasks[f], completed=n)

            st = ingest_files(files, out, fmt=fmt, skip_bad=skip_bad, on_progress=progress)  # type: ignore[arg-type]
    except (CorpusFormatError, DuplicateTitleError) as e:
        n = len(DocStore.open(out)) if (out / "docs.sqlite").exists() else 0
        console.print(f"[red]error:[/red] {e}\nThe store {out} holds {n:,} valid documents (everything before "
                      "this record); fix the record or rerun with --skip-bad (rerunning skips what is there).",
                      soft_wrap=True, highlight=False)
        raise typer.Exit(1) from None
    t = Table(title=f"ingested into {out}")
    t.add_column("what")
    t.add_column("count", justify="right")
    for k in ("n_read", "n_written", "n_merged_titles", "n_duplicate_ids", "n_already_present", "n_bad_skipped"):
        t.add_row(k.removeprefix("n_").replace("_", " "), f"{getattr(st, k):,}")
    Console().print(t)
    for ex in st.bad_examples:
        console.print(f"  skipped: {ex}", soft_wrap=True, highlight=False)


@corpus_app.command("fetch-2wiki")
def fetch_2wiki_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="JSON file to write (the official 2WikiMultihopQA layout)."),
    source: str = typer.Option("framolfese/2WikiMultihopQA", "--source",
                               help="Hub id, local dataset directory or parquet file."),
    split: str = typer.Option("validation", "--split", help="Split to read."),
    limit: int = typer.Option(None, "--limit", help="Stop after this many records (streamed: only they download)."),
) -> None:
    """2WikiMultihopQA through `datasets`, written as one JSON file for `corpus ingest` and `graph build --triples`."""
    from rich.console import Console

    from longtracerl.corpus.hub import HubFormatError, fetch_2wiki

    try:
        n = fetch_2wiki(out, source, split=split, limit=limit)
    except (HubFormatError, ValueError, FileNotFoundError) as e:
        Console(stderr=True).print(f"[red]error:[/] {e}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    typer.echo(f"{n:,} records of {source} [{split}] -> {out}")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to ``app``."""
    app.add_typer(corpus_app, name="corpus")

    @app.command("index")
    def index(
        corpus: Path = typer.Option(None, "--corpus", help="DocStore directory (default: the sample world)."),
        out: Path = typer.Option(None, "--out", help="Index directory (default: beside the DocStore)."),
        backend: str = typer.Option("bm25", "--backend", help="bm25 | dense | hybrid (BM25 + dense, fused by rank)."),
        analyzer: str = typer.Option("english", "--analyzer", help=_ANALYZER_HELP),
        embed_url: str = typer.Option(None, "--embed-url", help=_EMBED_URL_HELP),
        embed_model: str = typer.Option(None, "--embed-model", help="Model name sent to the endpoint (default: "
                                        "the first one it serves)."),
        embed_batch: int = typer.Option(64, "--embed-batch", min=1, help="Documents per embedding request."),
        embed_max_chars: int = typer.Option(2000, "--embed-max-chars", min=16,
                                            help="Title + text characters embedded per document."),
        doc_prefix: str = typer.Option("", "--doc-prefix", help="Prepended to each document (e.g. 'passage: ')."),
        query_prefix: str = typer.Option("", "--query-prefix", help="Prepended to each query (e.g. 'query: ')."),
        dense_weight: float = typer.Option(1.0, "--dense-weight", min=0.0, help="Hybrid: weight of the dense rank."),
        restart: bool = typer.Option(False, "--restart", help="Embed everything again instead of resuming."),
        threads: int = typer.Option(0, help="Indexing threads (0: tantivy decides)."),
    ) -> None:
        """Build the search index of a DocStore: BM25 (tantivy), dense (FAISS over an embedding endpoint) or
        hybrid. Dense embedding resumes where an interrupted run stopped."""
        import time

        from longtracerl.corpus.analyzers import check_analyzer
        from longtracerl.corpus.dense import DenseIndexError
        from longtracerl.corpus.docstore import DocStore
        from longtracerl.corpus.embeddings import EmbeddingClient, EmbeddingError
        from longtracerl.corpus.indexes import BACKENDS, build_search_index

        if backend not in BACKENDS:
            raise typer.BadParameter(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}",
                                     param_hint="--backend")
        try:
            check_analyzer(analyzer)
        except ValueError as e:
            raise typer.BadParameter(str(e), param_hint="--analyzer") from None
        if backend != "bm25" and not embed_url:
            raise typer.BadParameter(f"--backend {backend} needs --embed-url (an OpenAI-compatible /v1 endpoint)",
                                     param_hint="--embed-url")
        c, i = _world_dirs(corpus, out)
        t0 = time.perf_counter()
        client = None
        try:
            client = EmbeddingClient(embed_url, embed_model) if backend != "bm25" else None
            meta = build_search_index(i, DocStore.open(c), backend=backend, analyzer=analyzer,  # type: ignore[arg-type]
                                      client=client, batch_size=embed_batch, max_chars=embed_max_chars,
                                      doc_prefix=doc_prefix, query_prefix=query_prefix, dense_weight=dense_weight,
                                      restart=restart, threads=threads)
        except (EmbeddingError, DenseIndexError) as e:
            typer.secho(f"error: {e}", fg="red", err=True)
            typer.secho("what was embedded before is kept: rerun the same command to resume", err=True)
            raise typer.Exit(1) from None
        finally:
            if client is not None:
                client.close()
        what = backend + (f", analyzer {meta['analyzer']}" if "analyzer" in meta else "")
        if "dense" in meta:
            what += f", {meta['dense']['model']} ({meta['dense']['dim']} dims)"
        typer.echo(f"indexed {meta['n_docs']:,} documents into {i} ({what}) in {time.perf_counter() - t0:.1f} s")

    @app.command("search")
    def search(
        query: str = typer.Argument(..., help="Any text; no query syntax."),
        k: int = typer.Option(10, "-k", help="Results."),
        corpus: Path = typer.Option(None, "--corpus", help="DocStore directory (default: the sample world)."),
        index_dir: Path = typer.Option(None, "--index", help="Index directory."),
        analyzer: str = typer.Option(None, "--analyzer", help="Refuse to search unless the index was built with "
                                     "this analyzer."),
        embed_url: str = typer.Option(None, "--embed-url", help="Embedding endpoint replacing the one the index "
                                      "recorded (dense/hybrid)."),
        dense_weight: float = typer.Option(None, "--dense-weight", min=0.0, help="Hybrid: dense rank weight."),
    ) -> None:
        """Search the corpus and print ranked hits (BM25, dense or hybrid: whatever the index was built as)."""
        from rich.console import Console
        from rich.table import Table

        from longtracerl.corpus.embeddings import EmbeddingError

        b = _backend(corpus, index_dir, analyzer=analyzer, embed_url=embed_url, dense_weight=dense_weight)
        try:
            hits = b.search(query, k)
        except EmbeddingError as e:
            typer.secho(f"error: {e}", fg="red", err=True)
            raise typer.Exit(1) from None
        finally:
            close = getattr(b, "close", None)
            if callable(close):
                close()
        t = Table(title=f"{len(hits)} hits for {query!r}")
        for col in ("rank", "score", "doc_id", "title", "snippet"):
            t.add_column(col, overflow="fold")
        for h in hits:
            t.add_row(str(h.rank), f"{h.score:.2f}", h.doc_id, h.title, h.snippet[:160])
        Console().print(t)

    @app.command("open")
    def open_doc(
        doc_id: str = typer.Argument(..., help="Document id (see `longtracerl search`)."),
        max_chars: int = typer.Option(None, help="Cut the text to this many characters."),
        corpus: Path = typer.Option(None, "--corpus", help="DocStore directory (default: the sample world)."),
    ) -> None:
        """Print one document."""
        from longtracerl.corpus.docstore import DocStore

        c, _ = _world_dirs(corpus, None)
        d = DocStore.open(c).get(doc_id)
        if d is None:
            typer.secho(f"no document with doc_id {doc_id!r} in {c}", fg="red", err=True)
            raise typer.Exit(1)
        text = d.text if max_chars is None else d.text[:max_chars]
        typer.echo(f"# {d.title}  ({d.doc_id})\n\n{text}")
        if max_chars is not None and len(d.text) > max_chars:
            typer.echo(f"\n[truncated: {max_chars:,} of {len(d.text):,} characters]")

    @app.command("serve-search")
    def serve_search(
        corpus: Path = typer.Option(None, "--corpus", help="DocStore directory (default: the sample world)."),
        index_dir: Path = typer.Option(None, "--index", help="Index directory."),
        host: str = typer.Option("127.0.0.1", help="Bind address; keep 127.0.0.1 unless you set --token."),
        port: int = typer.Option(8400, help="Port."),
        token: str = typer.Option(None, envvar="LONGTRACERL_SEARCH_TOKEN", help="Require 'Authorization: Bearer TOKEN'."),
        analyzer: str = typer.Option(None, "--analyzer", help="Refuse to serve unless the index was built with "
                                     "this analyzer."),
        embed_url: str = typer.Option(None, "--embed-url", help="Embedding endpoint replacing the one the index "
                                      "recorded (dense/hybrid)."),
        dense_weight: float = typer.Option(None, "--dense-weight", min=0.0, help="Hybrid: dense rank weight."),
    ) -> None:
        """Serve search/open over HTTP so many agent workers share one index."""
        import uvicorn

        from longtracerl.corpus.server import create_search_app

        if host not in ("127.0.0.1", "localhost", "::1") and token is None:
            typer.secho(f"warning: serving on {host} without --token", fg="yellow", err=True)
        b = _backend(corpus, index_dir, analyzer=analyzer, embed_url=embed_url, dense_weight=dense_weight)
        uvicorn.run(create_search_app(b, token=token), host=host, port=port,
                    log_level="warning", access_log=False)
