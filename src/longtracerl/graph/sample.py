"""The graph of the bundled sample world (CIA World Factbook), built on first use and cached.

Sources: the sample world's relation triples (borders, capital, languages, ...), its entity file
(titles, document ids, aliases) and title mentions found in its documents. Cached under the sample
world's root in ``graph/``; rebuilt when the sources or this builder change.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from longtracerl.graph.build import GraphBuilder
from longtracerl.graph.mentions import MentionConfig
from longtracerl.graph.store import FORMAT_VERSION, Graph

SAMPLE_GRAPH_VERSION = 2  # 2: mentions link names, not words (graph.mentions)


def _fingerprint(paths: list[Path]) -> dict[str, Any]:
    fp: dict[str, Any] = {"graph_format": FORMAT_VERSION, "builder": SAMPLE_GRAPH_VERSION}
    for p in paths:
        if p.is_dir():
            files = sorted(x for x in p.rglob("*") if x.is_file() and not x.name.endswith(("-wal", "-shm")))
            fp[p.name] = [[str(x.relative_to(p)), x.stat().st_size, int(x.stat().st_mtime)] for x in files]
        elif p.exists():
            fp[p.name] = [p.stat().st_size, int(p.stat().st_mtime)]
    return fp


class SampleWorldUnavailable(RuntimeError):
    """The corpus stage's sample world cannot be loaded in this installation."""


def sample_sources() -> tuple[Any, Path, Path | None, Any]:
    """(sample world, triples path, entities path or None, opened DocStore)."""
    try:
        from longtracerl.corpus.docstore import DocStore
        from longtracerl.corpus.sample_world import ensure_sample_world
    except ImportError as e:
        raise SampleWorldUnavailable(f"the bundled sample world is unavailable ({e}); pass --graph/--out DIR") from e

    world = ensure_sample_world()
    triples = Path(world.triples_path)
    entities = getattr(world, "entities_path", None) or triples.parent / "entities.jsonl"
    entities = Path(entities) if Path(entities).exists() else None
    return world, triples, entities, DocStore.open(world.docstore_dir)


def build_sample_graph(out: Path | str, *, mentions: MentionConfig | None = None) -> Graph:
    """Build the sample world's graph into ``out`` (triples both ways, mentions directed)."""
    world, triples, entities, docstore = sample_sources()
    b = GraphBuilder()
    if entities is not None:
        b.add_entities(entities)
    b.add_triples(triples, undirected=True)
    b.add_mentions(docstore, config=mentions)
    fp = _fingerprint([p for p in (triples, entities, Path(world.docstore_dir)) if p is not None])
    return b.build(out, docstore=docstore, extra_meta={"fingerprint": fp, "sample_world": True})


def ensure_sample_graph(*, force: bool = False) -> Path:
    """Directory of the sample world's graph, building it (a second or so) when missing or stale."""
    world, triples, entities, _ = sample_sources()
    out = Path(world.root) / "graph"
    fp = _fingerprint([p for p in (triples, entities, Path(world.docstore_dir)) if p is not None])
    if not force and _current(out, fp):
        return out
    from filelock import FileLock

    # several processes (Ray workers of one node) may get here at once: one builds, the others wait for it
    with FileLock(str(out.with_name(".graph.lock"))):
        if not force and _current(out, fp):
            return out
        tmp = out.with_name(f"graph.tmp-{os.getpid()}")
        if tmp.exists():
            shutil.rmtree(tmp)
        build_sample_graph(tmp)
        if out.exists():  # moved aside, not deleted in place: a reader never sees a half-removed graph
            old = out.with_name(f"graph.old-{os.getpid()}")
            os.replace(out, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, out)
    return out


def _current(out: Path, fp: dict[str, Any]) -> bool:
    if not (out / "meta.json").exists():
        return False
    try:
        return bool(Graph.load(out).meta.get("fingerprint") == fp)
    except ValueError:
        return False


def load_sample_graph() -> Graph:
    return Graph.load(ensure_sample_graph())
