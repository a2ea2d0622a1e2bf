"""CLI commands of the `graph` stage, registered on the top-level app by ``longtracerl.cli``.

``longtracerl graph build``, ``longtracerl graph stats`` and ``longtracerl walk``: with no arguments
they work on the bundled sample world (built and cached on first use).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

graph_app = typer.Typer(help="Build and inspect the entity graph (hyperlinks, triples, mentions).", no_args_is_help=True)


def _fail(e: BaseException) -> typer.Exit:
    """Known bad-input errors: one clear line (it names the file/line or the setting), exit code 1."""
    from rich.console import Console

    Console(stderr=True).print(f"[red]error:[/] {e}", soft_wrap=True, highlight=False)
    return typer.Exit(1)


def _known_errors() -> tuple[type[BaseException], ...]:
    from longtracerl.graph.readers import GraphInputError
    from longtracerl.graph.sample import SampleWorldUnavailable
    from longtracerl.graph.store import GraphFormatError
    from longtracerl.graph.walk import ChooserError, NoSeedError
    from longtracerl.io import JsonlError

    return (GraphInputError, GraphFormatError, NoSeedError, ChooserError, JsonlError, FileNotFoundError,
            SampleWorldUnavailable)  # fmt: skip


def _open_docstore(path: Path | None) -> Any:
    if path is None:
        return None
    from longtracerl.corpus.docstore import DocStore

    return DocStore.open(path)


@graph_app.command("build")
def build_cmd(
    kilt: list[Path] = typer.Option(None, "--kilt", help="KILT knowledge-source JSONL(.gz) with anchors (repeatable)."),
    triples: list[Path] = typer.Option(None, "--triples", help="Triples: 2Wiki .json (evidences), .jsonl or .tsv (repeatable)."),
    entities: list[Path] = typer.Option(None, "--entities", help="Labels/aliases: Entity JSONL or id<TAB>title<TAB>a|b TSV."),
    mentions: bool = typer.Option(False, "--mentions", help="Add title-mention edges found in the --docstore texts."),
    docstore: Path | None = typer.Option(None, "--docstore", help="DocStore directory: maps nodes to documents."),
    out: Path | None = typer.Option(None, "--out", help="Output graph directory (default: the sample world's cache)."),
    directed_triples: bool = typer.Option(False, "--directed-triples", help="Store triples one way only."),
    undirected_links: bool = typer.Option(False, "--undirected-links", help="Store KILT links and mentions both ways."),
    min_title_len: int = typer.Option(4, help="Shortest title matched as a mention."),
    common_words: str = typer.Option("skip", "--common-words", help="Titles the corpus mostly writes in lower case "
                                     "(City, River, Second): skip = not mentions; keep = kept, labelled, never walked."),
    all_matches: bool = typer.Option(False, "--all-matches", help="Link every whole-word title match (no "
                                     "longer-name or sentence-start rule)."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip and count malformed input lines instead of stopping."),
) -> None:
    """Build a graph (CSR arrays + node table). With no sources: the sample world's graph."""
    from rich.console import Console

    console = Console(stderr=True)
    mcfg = _mention_config(common_words, not all_matches, min_title_len)
    if not (kilt or triples or mentions or entities):
        from longtracerl.graph.sample import build_sample_graph, ensure_sample_graph

        try:
            if out is None:
                path = ensure_sample_graph(force=True)
            else:
                build_sample_graph(out, mentions=mcfg)
                path = out
        except _known_errors() as e:
            raise _fail(e) from None
        console.print(f"sample world graph written to [bold]{path}[/]")
        _print_stats(path, components=False)
        return
    if out is None:
        raise typer.BadParameter("give --out DIR when building from your own sources", param_hint="--out")
    if mentions and docstore is None:
        raise typer.BadParameter("--mentions needs --docstore DIR (the texts to scan)", param_hint="--mentions")
    try:
        _build(kilt, triples, entities, mentions, docstore, out, directed_triples, undirected_links,
               mcfg, skip_bad, console)  # fmt: skip
    except _known_errors() as e:
        raise _fail(e) from None
    console.print(f"graph written to [bold]{out}[/]")
    _print_stats(out, components=False)


def _mention_config(common_words: str, names_only: bool, min_title_len: int) -> Any:
    from pydantic import ValidationError

    from longtracerl.graph.mentions import MentionConfig

    try:
        return MentionConfig(common_words=common_words, names_only=names_only,  # type: ignore[arg-type]
                             min_title_len=min_title_len)
    except ValidationError as e:
        raise typer.BadParameter(f"expected skip or keep, got {common_words!r}", param_hint="--common-words") from e


def _build(
    kilt: list[Path] | None, triples: list[Path] | None, entities: list[Path] | None, mentions: bool,
    docstore: Path | None, out: Path, directed_triples: bool, undirected_links: bool, mcfg: Any,
    skip_bad: bool, console: Any,
) -> None:  # fmt: skip
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from longtracerl.graph.build import GraphBuilder

    ds = _open_docstore(docstore)
    b = GraphBuilder()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} records"),
                  TimeElapsedColumn(), console=console) as progress:  # fmt: skip
        for p in entities or []:
            b.add_entities(p, skip_bad=skip_bad)
        for p in kilt or []:
            task = progress.add_task(f"KILT {p.name}", total=None)

            def tick(n: int, task: Any = task) -> None:
                if n % 2000 == 0:
                    progress.update(task, completed=n)

            st = b.add_kilt(p, undirected=undirected_links, skip_bad=skip_bad, on_record=tick)
            progress.update(task, completed=st.records)
        for p in triples or []:
            b.add_triples(p, undirected=not directed_triples, skip_bad=skip_bad)
        if mentions:
            task = progress.add_task("mentions", total=None)

            def tick_m(n: int) -> None:
                if n % 500 == 0:
                    progress.update(task, completed=n)

            b.add_mentions(ds, config=mcfg, undirected=undirected_links, on_record=tick_m)
        progress.add_task("writing CSR", total=None)
        b.build(out, docstore=ds)


def _print_stats(path: Path, *, components: bool = True, as_json: bool = False) -> None:
    import json

    from rich.console import Console
    from rich.table import Table

    from longtracerl.graph.stats import graph_stats
    from longtracerl.graph.store import Graph

    s = graph_stats(Graph.load(path), components=components)
    if as_json:
        typer.echo(json.dumps(s, indent=2))
        return
    console = Console()
    t = Table(title=f"graph {path}", show_header=False)
    for k in ("nodes", "edges", "nodes_with_document", "nodes_without_out_edges"):
        t.add_row(k, f"{s[k]:,}")
    for name in ("out_degree", "in_degree"):
        t.add_row(name, "  ".join(f"{k} {v:,.1f}" for k, v in s[name].items()))
    if "weak_components" in s:
        c = s["weak_components"]
        t.add_row("weak components", f"{c['count']:,} (largest {c['largest']:,} = {c['largest_share']:.1%}, "
                  f"singletons {c['singletons']:,}); top sizes {c['top_sizes']}")  # fmt: skip
    for k, v in s["build_counts"].items():
        t.add_row(f"build: {k}", f"{v:,}")
    console.print(t)
    m = s["mentions"]
    if m["mention_edges"] or m["common_word_titles"] or any(m["mention_edges_dropped"].values()):
        mt = Table(title="mentions: names, not words", show_header=False)
        mt.add_row("mention edges", f"{m['mention_edges']:,}")
        mt.add_row("common-word titles", f"{m['common_word_titles']:,} "
                   + ", ".join(f"{t} ({d:,} in-edges)" for t, d in m["common_word_examples"]))
        mt.add_row("edges into common-word titles", f"{m['edges_into_common_word_titles']:,} (mentions: "
                   f"{m['mention_edges_into_common_word_titles']:,} = {m['mention_share_into_common_word_titles']:.1%})")
        mt.add_row("mention edges dropped", ", ".join(f"{k} {v:,}" for k, v in m["mention_edges_dropped"].items()))
        console.print(mt)
    lt = Table()
    lt.add_column("most-linked target")
    lt.add_column("in-edges", justify="right")
    for title, d in m["most_linked"]:
        lt.add_row(title, f"{d:,}")
    console.print(lt)
    r = Table(title="relations")
    r.add_column("relation")
    r.add_column("edges", justify="right")
    for k, v in list(s["relations"].items())[:30]:
        r.add_row(k, f"{v:,}")
    if len(s["relations"]) > 30:
        r.add_row(f"... {len(s['relations']) - 30} more", "")
    console.print(r)


@graph_app.command("stats")
def stats_cmd(
    path: Path | None = typer.Argument(None, help="Graph directory (default: the sample world's graph)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    components: bool = typer.Option(True, "--components/--no-components", help="Compute weak components."),
) -> None:
    """Nodes, edges, relation counts, degree distribution and weakly connected components."""
    try:
        if path is None:
            from longtracerl.graph.sample import ensure_sample_graph

            path = ensure_sample_graph()
        _print_stats(path, components=components, as_json=as_json)
    except _known_errors() as e:
        raise _fail(e) from None


def walk_cmd(
    graph: Path | None = typer.Option(None, "--graph", help="Graph directory (default: the sample world's graph)."),
    n: int | None = typer.Option(None, "--n", help="Walks to attempt [100]."),
    hops: int | None = typer.Option(None, "--hops", help="Moves per walk (max) [8]."),
    min_hops: int | None = typer.Option(None, "--min-hops", help="Moves a kept walk must make [= --hops]."),
    cap: int | None = typer.Option(None, "--cap", help="Candidates offered per move [5]."),
    jump_prob: float | None = typer.Option(None, "--jump-prob", help="Chance a move teleports [0.1]."),
    chooser: str = typer.Option("uniform", "--chooser", help="uniform | degree | llm (an LLM picks each hop; "
                                "give --llm)"),
    llm: str | None = typer.Option(None, "--llm", help="With --chooser llm: local (bundled model) | openai."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint for --llm openai."),
    model: str | None = typer.Option(None, "--model", help="Model name (openai) or GGUF path (local)."),
    api_key: str | None = typer.Option(None, "--api-key", envvar="OPENAI_API_KEY", help="API key for --llm openai."),
    llm_cache: Path | None = typer.Option(None, "--llm-cache", help="Cache LLM answers here (reruns reuse them)."),
    concurrency: int = typer.Option(16, "--concurrency", help="Walks in flight with --chooser llm."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed [0]."),
    config: Path | None = typer.Option(None, "--config", help="WalkConfig YAML; options above override it."),
    docstore: Path | None = typer.Option(None, "--docstore", help="DocStore (first sentences for custom choosers)."),
    out: Path = typer.Option(Path("chains.jsonl"), "--out", help="Chains JSONL (appended; ids already there are skipped)."),
    rejected: Path | None = typer.Option(None, "--rejected", help="Rejections JSONL [<out>.rejected.jsonl]."),
) -> None:
    """Random walks over the graph, written as chains (JSONL). Resumable: reruns skip done ids."""
    import yaml
    from rich.console import Console

    from longtracerl.graph.simple_choosers import CHOOSERS
    from longtracerl.graph.store import Graph
    from longtracerl.graph.walk import WalkConfig
    from longtracerl.graph.write import run_walks

    console = Console(stderr=True)
    if chooser not in CHOOSERS and chooser != "llm":
        raise typer.BadParameter(f"unknown chooser {chooser!r}; choose from {sorted([*CHOOSERS, 'llm'])}",
                                 param_hint="--chooser")
    if chooser == "llm" and llm is None:
        raise typer.BadParameter("--chooser llm needs an LLM: add --llm local, or --llm openai --base-url URL "
                                 "--model NAME", param_hint="--llm")
    if llm is not None and chooser != "llm":
        raise typer.BadParameter("--llm is used only with --chooser llm", param_hint="--llm")
    if llm is not None and llm not in ("local", "openai"):
        raise typer.BadParameter(f"unknown --llm {llm!r}; expected local or openai", param_hint="--llm")
    if llm == "openai" and not base_url:
        raise typer.BadParameter("--llm openai needs --base-url URL (e.g. http://127.0.0.1:8000/v1)",
                                 param_hint="--base-url")
    base: dict[str, Any] = {}
    if config is not None:
        loaded = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise typer.BadParameter(f"{config}: expected a mapping of WalkConfig fields", param_hint="--config")
        base.update(loaded)
    overrides = {"n_walks": n, "max_hops": hops, "min_hops": min_hops, "max_candidates": cap,
                 "jump_prob": jump_prob, "seed": seed}  # fmt: skip
    base.update({k: v for k, v in overrides.items() if v is not None})
    if hops is not None and min_hops is None and "min_hops" not in base:
        base["min_hops"] = hops
    try:
        cfg = WalkConfig.model_validate(base)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--config/options") from None
    rej = rejected or out.with_name(out.name.removesuffix(".jsonl") + ".rejected.jsonl")
    try:
        if graph is None:
            from longtracerl.graph.sample import ensure_sample_graph

            graph = ensure_sample_graph()
        g = Graph.load(graph)
        with console.status(f"walking {cfg.n_walks:,} walks on {graph}"):
            if chooser == "llm":
                summary = _llm_walks(g, cfg, out, rej, _open_docstore(docstore), llm or "local", base_url, model,
                                     api_key, llm_cache, concurrency)  # fmt: skip
            else:
                summary = run_walks(g, cfg, CHOOSERS[chooser](), out, rejected_path=rej,
                                    docstore=_open_docstore(docstore))  # fmt: skip
    except _known_errors() as e:
        raise _fail(e) from None
    console.print(
        f"{summary['written']:,} new chains -> [bold]{out}[/] ({summary['skipped']:,} already there); "
        f"{summary['failed']:,} walks failed {summary['failures']} -> {rej}; "
        f"{summary['hops_per_s']:,.0f} moves/s"
        + (f"; LLM chooser {summary['chooser']}" if "chooser" in summary else ""),
        soft_wrap=True,
    )


def _llm_walks(g: Any, cfg: Any, out: Path, rej: Path, docstore: Any, kind: str, base_url: str | None,
               model: str | None, api_key: str | None, cache: Path | None, concurrency: int) -> dict[str, Any]:
    """Walks whose every hop an LLM picks among the offered candidates (PAPER.md 2a)."""
    import asyncio

    from longtracerl.graph.write import arun_walks
    from longtracerl.llm import make_llm
    from longtracerl.llm.walk_chooser import LLMWalkChooser

    llm = make_llm(kind, base_url=base_url, model=model, api_key=api_key, cache_dir=cache, stage="walk")
    chooser = LLMWalkChooser(llm)
    summary = asyncio.run(arun_walks(g, cfg, chooser, out, rejected_path=rej, docstore=docstore,
                                     concurrency=concurrency))
    summary["chooser"] = chooser.counters
    return summary


def register(app: typer.Typer) -> None:
    """Add this stage's commands to ``app``."""
    app.add_typer(graph_app, name="graph")
    app.command("walk")(walk_cmd)
