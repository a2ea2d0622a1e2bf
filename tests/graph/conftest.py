"""Small graphs for the graph-stage tests, built with the real builder."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from longtracerl.graph.build import GraphBuilder
from longtracerl.graph.store import Graph


def make_world(out: Path, n: int = 300, m: int = 1500, seed: int = 7) -> Graph:
    """``n`` entities with random relation edges; some are list/disambiguation/year pages, some lack a doc.

    Node i's title: "List of things i" when i % 23 == 0, "Thing i (disambiguation)" when i % 29 == 0,
    the year "1{i:03d}" when i % 31 == 0, else "Entity i". Nodes with i % 10 == 9 have no document.
    """
    rng = random.Random(seed)
    b = GraphBuilder()

    def title(i: int) -> str:
        if i % 23 == 0:
            return f"List of things {i}"
        if i % 29 == 0:
            return f"Thing {i} (disambiguation)"
        if i % 31 == 0:
            return f"1{i:03d}"
        return f"Entity {i}"

    nodes = [b.entity(f"Q{i}", title(i), None if i % 10 == 9 else f"doc-{i}") for i in range(n)]
    for _ in range(m):
        u, v = rng.randrange(n), rng.randrange(n)
        if u != v:
            b.add_edge(nodes[u], nodes[v], rng.choice(["r1", "r2", "r3"]), undirected=True)
    return b.build(out)


@pytest.fixture
def world(tmp_path: Path) -> Graph:
    return make_world(tmp_path / "world")


def write_kilt(path: Path, pages: list[dict]) -> Path:
    """Write KILT knowledge-source lines: {wikipedia_id, wikipedia_title, text, anchors}."""
    with path.open("w", encoding="utf-8") as f:
        for p in pages:
            f.write(json.dumps(p) + "\n")
    return path


def kilt_page(wid: str, title: str, links: list[dict]) -> dict:
    return {
        "_id": wid,
        "wikipedia_id": wid,
        "wikipedia_title": title,
        "text": [title + "\n", f"{title} is a page."],
        "anchors": [
            {"paragraph_id": 1, "start": 0, "end": 3, "text": "x", **link} for link in links
        ],
    }


@pytest.fixture
def world_factory():  # type: ignore[no-untyped-def]
    """``make_world`` itself (test modules cannot import conftest under --import-mode=importlib)."""
    return make_world


@pytest.fixture
def kilt():  # type: ignore[no-untyped-def]
    """(write_kilt, kilt_page) helpers."""
    return write_kilt, kilt_page
