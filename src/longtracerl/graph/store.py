"""The graph on disk and in memory: CSR arrays (numpy, memory-mapped) plus a node table (parquet).

Layout of a graph directory::

    meta.json         counts, build settings, relation vocabulary, format version
    indptr.npy        int64[n_nodes + 1]  out-edges of node u are indices[indptr[u]:indptr[u + 1]]
    indices.npy       int32[n_edges]      destination node of each edge (rows sorted by destination)
    relation_ids.npy  int32[n_edges]      index into meta["relations"], -1 = no label
    has_doc.npy       bool[n_nodes]       node has a document (walks may only step onto these)
    nodes.parquet     entity_id, title, doc_id (nullable), aliases (list<string>)

Arrays are opened with ``mmap_mode="r"``: a 5.9M-page hyperlink graph loads instantly and is shared
by every process that walks it. The node table is read only when names are needed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from longtracerl.records import Edge, Entity

FORMAT_VERSION = 1
NO_RELATION = -1


class GraphFormatError(ValueError):
    """A graph directory is missing a file or has inconsistent arrays (names the directory and file)."""


class Graph:
    """A directed multigraph over entities, in CSR form. Undirected graphs store both directions."""

    def __init__(
        self,
        indptr: np.ndarray,
        indices: np.ndarray,
        relation_ids: np.ndarray,
        has_doc: np.ndarray,
        relations: Sequence[str],
        nodes: Any,  # pyarrow.Table with entity_id, title, doc_id, aliases
        meta: dict[str, Any] | None = None,
        path: Path | None = None,
    ) -> None:
        self.indptr = indptr
        self.indices = indices
        self.relation_ids = relation_ids
        self.has_doc = has_doc
        self.relations = list(relations)
        self._nodes = nodes
        self.meta = dict(meta or {})
        self.path = path
        if len(indptr) != nodes.num_rows + 1 or len(has_doc) != nodes.num_rows:
            raise GraphFormatError(f"{path or '<graph>'}: node table and arrays disagree on the node count")
        if len(indices) != len(relation_ids) or int(indptr[-1]) != len(indices):
            raise GraphFormatError(f"{path or '<graph>'}: indptr, indices and relation_ids disagree")

    # ------------------------------------------------------------------ sizes

    @property
    def n_nodes(self) -> int:
        return len(self.indptr) - 1

    @property
    def n_edges(self) -> int:
        return len(self.indices)

    @cached_property
    def out_degree(self) -> np.ndarray:
        """Out-degree of every node (int64); for undirected graphs this is the degree."""
        return np.diff(np.asarray(self.indptr))

    @cached_property
    def in_degree(self) -> np.ndarray:
        return np.bincount(np.asarray(self.indices), minlength=self.n_nodes)

    def degree(self, node: int) -> int:
        return int(self.indptr[node + 1] - self.indptr[node])

    # ------------------------------------------------------------------ edges

    def neighbors(self, node: int) -> np.ndarray:
        """Destination nodes of the out-edges of ``node`` (a read-only view, no copy)."""
        return self.indices[self.indptr[node] : self.indptr[node + 1]]

    def neighbor_relations(self, node: int) -> np.ndarray:
        return self.relation_ids[self.indptr[node] : self.indptr[node + 1]]

    def relation_name(self, rid: int) -> str | None:
        return None if rid < 0 else self.relations[rid]

    def edges(self, node: int) -> list[Edge]:
        """The out-edges of one node as records (for display and export, not for hot loops)."""
        src = self.entity_ids[node]
        return [
            Edge(src=src, dst=self.entity_ids[int(v)], relation=self.relation_name(int(r)))
            for v, r in zip(self.neighbors(node), self.neighbor_relations(node), strict=True)
        ]

    # ------------------------------------------------------------------ node table (lazy)

    @cached_property
    def entity_ids(self) -> list[str]:
        return [str(x) for x in self._nodes.column("entity_id").to_pylist()]

    @cached_property
    def titles(self) -> list[str]:
        return [str(x) for x in self._nodes.column("title").to_pylist()]

    @cached_property
    def doc_ids(self) -> list[str | None]:
        return list(self._nodes.column("doc_id").to_pylist())

    @cached_property
    def aliases(self) -> list[list[str]]:
        return [list(a or []) for a in self._nodes.column("aliases").to_pylist()]

    def entity(self, node: int) -> Entity:
        return Entity(
            entity_id=self.entity_ids[node],
            title=self.titles[node],
            doc_id=self.doc_ids[node],
            aliases=self.aliases[node],
        )

    @cached_property
    def _by_entity_id(self) -> dict[str, int]:
        return {e: i for i, e in enumerate(self.entity_ids)}

    @cached_property
    def _by_title(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i, t in enumerate(self.titles):
            out.setdefault(t, i)
        return out

    @cached_property
    def _by_doc(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i, d in enumerate(self.doc_ids):
            if d is not None:
                out.setdefault(d, i)
        return out

    def node_of(self, entity_id: str) -> int:
        """Node index of an entity id; KeyError naming the id if absent."""
        try:
            return self._by_entity_id[entity_id]
        except KeyError:
            raise KeyError(f"no entity {entity_id!r} in graph {self.path or ''}") from None

    def node_by_title(self, title: str) -> int | None:
        return self._by_title.get(title)

    def node_by_doc(self, doc_id: str) -> int | None:
        return self._by_doc.get(doc_id)

    # ------------------------------------------------------------------ persistence

    def save(self, directory: Path | str) -> Path:
        """Write the graph atomically enough for readers: arrays first, meta.json (the marker) last."""
        import pyarrow.parquet as pq

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        marker = d / "meta.json"
        if marker.exists():
            marker.unlink()  # a half-rewritten directory must not look complete
        np.save(d / "indptr.npy", np.asarray(self.indptr, dtype=np.int64))
        np.save(d / "indices.npy", np.asarray(self.indices, dtype=np.int32))
        np.save(d / "relation_ids.npy", np.asarray(self.relation_ids, dtype=np.int32))
        np.save(d / "has_doc.npy", np.asarray(self.has_doc, dtype=bool))
        pq.write_table(self._nodes, d / "nodes.parquet")
        meta = dict(self.meta)
        meta.update(
            format_version=FORMAT_VERSION,
            n_nodes=self.n_nodes,
            n_edges=self.n_edges,
            relations=self.relations,
        )
        tmp = d / "meta.json.tmp"
        tmp.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, marker)
        self.path = d
        return d

    @classmethod
    def load(cls, directory: Path | str, *, mmap: bool = True) -> Graph:
        """Open a graph directory; arrays are memory-mapped unless ``mmap=False``."""
        import pyarrow.parquet as pq

        d = Path(directory)
        meta_path = d / "meta.json"
        if not meta_path.exists():
            raise GraphFormatError(
                f"{d}: not a graph directory (no meta.json); build one with `longtracerl graph build`"
            )
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise GraphFormatError(
                f"{meta_path}: format_version {meta.get('format_version')!r}, this code reads {FORMAT_VERSION}"
            )
        arrays: dict[str, np.ndarray] = {}
        for name in ("indptr", "indices", "relation_ids", "has_doc"):
            f = d / f"{name}.npy"
            if not f.exists():
                raise GraphFormatError(f"{f}: missing")
            arrays[name] = np.load(f, mmap_mode="r") if mmap else np.load(f)
        nodes_path = d / "nodes.parquet"
        if not nodes_path.exists():
            raise GraphFormatError(f"{nodes_path}: missing")
        nodes = pq.read_table(nodes_path)
        return cls(
            arrays["indptr"],
            arrays["indices"],
            arrays["relation_ids"],
            arrays["has_doc"],
            meta.get("relations", []),
            nodes,
            meta=meta,
            path=d,
        )


def node_table(
    entity_ids: Sequence[str],
    titles: Sequence[str],
    doc_ids: Sequence[str | None],
    aliases: Sequence[Sequence[str]],
) -> Any:
    """Build the pyarrow node table from parallel columns."""
    import pyarrow as pa

    return pa.table(
        {
            "entity_id": pa.array(entity_ids, type=pa.string()),
            "title": pa.array(titles, type=pa.string()),
            "doc_id": pa.array(doc_ids, type=pa.string()),
            "aliases": pa.array([list(a) for a in aliases], type=pa.list_(pa.string())),
        }
    )
