"""Build a graph from KILT anchors, triples and title mentions, streaming, into CSR arrays.

Memory model: one Python string per node (its title/id in a dict ``key -> int``), and per edge only
three int32 values accumulated in ``array('i')`` chunks, so the hyperlink graph of millions of pages
fits in a few GB. Node keys: an entity is found by its entity id first, then by its title, then (for
triples only) by an alias.

Direction. Wikipedia links are directed: KILT anchors and mentions store out-edges only by default.
Triples default to ``undirected=True``: a Wikidata fact (film -director-> person) is as good a hop
backwards, and walks over sparse triples die quickly otherwise. A reverse edge carries the label
``"<relation> (inverse)"`` so a question writer still knows which way the fact points.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from longtracerl.graph.mentions import (
    COMMON_MENTION_RELATION,
    MentionConfig,
    MentionScan,
    mention_patterns,
    scan_documents,
)
from longtracerl.graph.readers import ReadStats, Triple, iter_entities, iter_kilt_pages, iter_triples
from longtracerl.graph.store import NO_RELATION, Graph, node_table
from longtracerl.records import Document

INVERSE_SUFFIX = " (inverse)"
MENTION_RELATION = "mentions"
DEFAULT_STOP_TITLES: frozenset[str] = frozenset(
    {"The", "This", "That", "There", "These", "Those", "They", "When", "Where", "Which", "While", "With",
     "About", "After", "Before", "During", "From", "Into", "Over", "Under", "Other", "Some", "Many",
     "Most", "Also", "Only", "Such", "World", "Government", "People", "Population", "Economy",
     "History", "Geography", "Military", "Energy", "Environment", "Transportation", "Communications",
     "Introduction", "Society", "Terrorism", "Total", "Note", "None", "Land", "Water", "Area", "North",
     "South", "East", "West", "Central"}
)  # fmt: skip
_NUMERIC_TITLE = re.compile(r"^[\W\d_]*$")
_CHUNK = 1 << 20
MAX_COMMON_WORDS_LISTED = 200_000


def inverse_relation(name: str) -> str:
    return name[: -len(INVERSE_SUFFIX)] if name.endswith(INVERSE_SUFFIX) else name + INVERSE_SUFFIX


class _EdgeBuffer:
    """Edges as int32 triples in growable ``array('i')`` chunks (no Python object per edge)."""

    def __init__(self) -> None:
        self._chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._src, self._dst, self._rel = array("i"), array("i"), array("i")

    def add(self, src: int, dst: int, rel: int) -> None:
        self._src.append(src)
        self._dst.append(dst)
        self._rel.append(rel)
        if len(self._src) >= _CHUNK:
            self._flush()

    def add_many(self, src: int, dsts: list[int], rel: int) -> None:
        k = len(dsts)
        self._src.extend([src] * k)
        self._dst.extend(dsts)
        self._rel.extend([rel] * k)
        if len(self._src) >= _CHUNK:
            self._flush()

    def add_arrays(self, src: np.ndarray, dst: np.ndarray, rel: int) -> None:
        """Many edges of one relation at once (kept as one chunk)."""
        self._flush()
        if len(src):
            self._chunks.append((src.astype(np.int32), dst.astype(np.int32), np.full(len(src), rel, np.int32)))

    def _flush(self) -> None:
        if len(self._src):
            self._chunks.append(
                (np.frombuffer(self._src, np.int32).copy(), np.frombuffer(self._dst, np.int32).copy(),
                 np.frombuffer(self._rel, np.int32).copy())
            )  # fmt: skip
            self._src, self._dst, self._rel = array("i"), array("i"), array("i")

    def __len__(self) -> int:
        return sum(len(c[0]) for c in self._chunks) + len(self._src)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._flush()
        if not self._chunks:
            e = np.zeros(0, np.int32)
            return e, e.copy(), e.copy()
        out = tuple(np.concatenate([c[k] for c in self._chunks]) for k in range(3))
        return out[0], out[1], out[2]


class GraphBuilder:
    """Accumulates nodes and edges from any mix of sources, then ``build()`` writes compact CSR."""

    def __init__(self) -> None:
        self._eid: list[str] = []
        self._title: list[str] = []
        self._doc: list[str | None] = []
        self._aliases: dict[int, list[str]] = {}
        self._placeholder = bytearray()  # 1 = only seen as a link target, no page (yet)
        self._page = bytearray()  # 1 = a KILT page record was read for this node
        self._by_id: dict[str, int] = {}
        self._by_title: dict[str, int] = {}
        self._by_alias: dict[str, int] = {}
        self._by_doc: dict[str, int] = {}
        self._redirect: dict[int, int] = {}
        self._rel: dict[str, int] = {}
        self._edges = _EdgeBuffer()
        self.counts: dict[str, int] = {}
        self.sources: list[dict[str, Any]] = []
        self.common_words: list[str] = []  # common-word titles found by the mention pass (meta.json)

    # ------------------------------------------------------------------ nodes

    def _count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def _new(
        self, eid: str, title: str, doc_id: str | None, placeholder: bool = False, by_title: bool = True
    ) -> int:
        n = len(self._eid)
        self._eid.append(eid)
        self._title.append(title)
        self._doc.append(doc_id)
        self._placeholder.append(1 if placeholder else 0)
        self._page.append(0)
        self._by_id.setdefault(eid, n)
        if by_title:
            self._by_title.setdefault(title, n)
        if doc_id is not None:
            self._by_doc.setdefault(doc_id, n)
        return n

    def _find(self, n: int) -> int:
        while n in self._redirect:
            n = self._redirect[n]
        return n

    def _set_doc(self, n: int, doc_id: str | None) -> None:
        if doc_id is not None and self._doc[n] is None:
            self._doc[n] = doc_id
            self._by_doc.setdefault(doc_id, n)

    def entity(
        self,
        entity_id: str | None = None,
        title: str | None = None,
        doc_id: str | None = None,
        aliases: Iterable[str] = (),
        *,
        use_aliases: bool = False,
    ) -> int:
        """The node of an entity, created if new; found by id, then title (then alias if asked)."""
        if entity_id is None and title is None:
            raise ValueError("an entity needs an entity_id or a title")
        n = self._by_id.get(entity_id) if entity_id is not None else None
        if n is None and title is not None:
            n = self._by_title.get(title)
        if n is None and doc_id is not None:
            n = self._by_doc.get(doc_id)
        if n is None and use_aliases and title is not None:
            n = self._by_alias.get(title)
        if n is None:
            n = self._new(entity_id or title or "", title or entity_id or "", doc_id)
        else:
            n = self._find(n)
            if self._placeholder[n]:
                self._placeholder[n] = 0  # named by a real source: an entity even without a page
            if entity_id is not None:
                self._by_id.setdefault(entity_id, n)
            if title is not None:
                self._by_title.setdefault(title, n)
            self._set_doc(n, doc_id)
        for a in aliases:
            self.add_alias(n, a)
        return n

    def add_alias(self, node: int, alias: str) -> None:
        al = self._aliases.setdefault(node, [])
        if alias and alias != self._title[node] and alias not in al:
            al.append(alias)
            self._by_alias.setdefault(alias, node)

    def relation(self, name: str | None) -> int:
        if name is None:
            return NO_RELATION
        rid = self._rel.get(name)
        if rid is None:
            rid = self._rel[name] = len(self._rel)
        return rid

    def add_edge(self, src: int, dst: int, relation: str | None = None, *, undirected: bool = False) -> None:
        self._edges.add(src, dst, self.relation(relation))
        if undirected:
            self._edges.add(dst, src, self.relation(None if relation is None else inverse_relation(relation)))

    # ------------------------------------------------------------------ KILT anchors

    def _kilt_page(self, wid: str, title: str) -> int:
        a = self._by_id.get(wid)
        b = self._by_title.get(title)
        a = None if a is None else self._find(a)
        b = None if b is None else self._find(b)
        if a is None and b is None:
            n = self._new(wid, title, wid)
            self._page[n] = 1
            return n
        if a is not None and b is not None and a != b:
            # the page was linked once by id and once by title: one node, edges follow the redirect
            keep, drop = (a, b) if not self._placeholder[a] or self._placeholder[b] else (b, a)
            self._redirect[drop] = keep
            self._count("kilt_targets_merged")
            if self._page[keep] and self._page[drop]:
                self._count("duplicate_pages_merged")
            self._placeholder[drop] = 0
            n = keep
        else:
            n = a if a is not None else b  # type: ignore[assignment]
            assert n is not None
            if self._page[n]:
                self._count("duplicate_pages_merged")  # same id or same title read twice: one node
        self._page[n] = 1
        if self._placeholder[n]:
            self._eid[n], self._title[n], self._placeholder[n] = wid, title, 0
        self._by_id.setdefault(wid, n)
        self._by_title.setdefault(title, n)
        self._set_doc(n, wid)
        return n

    def _kilt_target(self, tid: str | None, ttitle: str | None) -> int:
        n = self._by_id.get(tid) if tid is not None else None
        if n is None and ttitle is not None:
            n = self._by_title.get(ttitle)
        if n is None:
            # a target known only by id gets no title key (ids such as "1984" are also titles)
            return self._new(tid or ttitle or "", ttitle or tid or "", None, True, ttitle is not None)
        n = self._find(n)
        if tid is not None:
            self._by_id.setdefault(tid, n)
        return n

    def add_kilt(
        self,
        path: Path | str,
        *,
        undirected: bool = False,
        relation: str | None = None,
        skip_bad: bool = False,
        on_record: Callable[[int], None] | None = None,
    ) -> ReadStats:
        """Add the hyperlink graph of a KILT knowledge-source JSONL (``.gz`` allowed).

        Each page is a node (entity id = document id = ``wikipedia_id``); each anchor an edge. Targets
        are resolved by ``wikipedia_id``, else by title; links to pages absent from the file are
        dropped and counted in ``build()`` (``edges_to_missing_pages``), as are self-links.
        """
        st = ReadStats()
        rid = self.relation(relation)
        inv = self.relation(None if relation is None else inverse_relation(relation))
        n_anchors = 0
        for wid, title, targets in iter_kilt_pages(path, skip_bad=skip_bad, stats=st):
            u = self._kilt_page(wid, title)
            if targets:
                dsts = [self._kilt_target(tid, tt) for tid, tt in targets]
                n_anchors += len(dsts)
                self._edges.add_many(u, dsts, rid)
                if undirected:
                    for v in dsts:
                        self._edges.add(v, u, inv)
            if on_record is not None:
                on_record(st.records)
        self._count("kilt_pages", st.records)
        self._count("kilt_anchors", n_anchors)
        self._count("skipped_bad_records", st.skipped_bad)
        self.sources.append({"kind": "kilt", "path": Path(path).name, "undirected": undirected})
        return st

    # ------------------------------------------------------------------ triples and entities

    def add_entities(self, path: Path | str, *, skip_bad: bool = False) -> ReadStats:
        """Labels and aliases (``Entity`` JSONL or ``id<TAB>title<TAB>a|b`` TSV); give before triples."""
        st = ReadStats()
        for eid, title, doc_id, aliases in iter_entities(path, skip_bad=skip_bad, stats=st):
            self.entity(eid, title, doc_id, aliases)
        self._count("entities", st.records)
        self._count("skipped_bad_records", st.skipped_bad)
        self.sources.append({"kind": "entities", "path": Path(path).name})
        return st

    def add_triple_records(self, triples: Iterable[Triple], *, undirected: bool = True) -> int:
        n = 0
        for t in triples:
            s = self.entity(t.subject, t.subject, t.subject_doc_id, use_aliases=True)
            o = self.entity(t.object, t.object, t.object_doc_id, use_aliases=True)
            if s == o:
                self._count("self_triples_dropped")
                continue
            self.add_edge(s, o, t.relation, undirected=undirected)
            n += 1
        self._count("triples", n)
        return n

    def add_triples(self, path: Path | str, *, undirected: bool = True, skip_bad: bool = False) -> ReadStats:
        """Add triples from 2Wiki JSON (``evidences``), JSONL or TSV (see ``readers.iter_triples``)."""
        st = ReadStats()
        self.add_triple_records(iter_triples(path, skip_bad=skip_bad, stats=st), undirected=undirected)
        self._count("skipped_bad_records", st.skipped_bad)
        self.sources.append({"kind": "triples", "path": Path(path).name, "undirected": undirected})
        return st

    # ------------------------------------------------------------------ mentions

    def add_mentions(
        self,
        documents: Iterable[Document],
        *,
        min_title_len: int | None = None,
        stop_titles: Iterable[str] = DEFAULT_STOP_TITLES,
        undirected: bool = False,
        relation: str | None = MENTION_RELATION,
        config: MentionConfig | None = None,
        on_record: Callable[[int], None] | None = None,
    ) -> int:
        """Link each document's node to every entity it names by title (or alias); see ``graph.mentions``.

        ``documents`` is iterated twice (a DocStore or a list): first to make every document a node,
        then to scan texts, once. Titles shorter than ``min_title_len``, purely numeric titles, stop titles
        and names shared by two entities are not patterns; the ``MentionConfig`` rules (longer names,
        sentence starts, common-word titles) decide which matches link.
        """
        cfg = config or MentionConfig()
        if min_title_len is not None:
            cfg = cfg.model_copy(update={"min_title_len": min_title_len})
        doc_nodes = array("i")
        for doc in documents:
            n = self._by_doc.get(doc.doc_id)
            n = self.entity(doc.doc_id, doc.title, doc.doc_id) if n is None else self._find(n)
            doc_nodes.append(n)
        nodes = ((n, self._title[n], self._aliases.get(n, [])) for n in range(len(self._eid))
                 if self._doc[n] is not None and n not in self._redirect)  # fmt: skip
        names, titles, n_ambiguous = mention_patterns(nodes, cfg.min_title_len, set(stop_titles), _NUMERIC_TITLE)
        self._count("mention_ambiguous_names_dropped", n_ambiguous)
        if not names:
            return 0
        scan = MentionScan(names, titles, cfg)
        scan_documents(scan, documents, doc_nodes, on_record)
        src, dst, common, dropped = scan.decide()
        for label, sel in ((relation, ~common), (COMMON_MENTION_RELATION, common)):
            if not sel.any():
                continue
            rid = self.relation(label)
            inv = self.relation(None if label is None else inverse_relation(label))
            self._edges.add_arrays(src[sel], dst[sel], rid)
            if undirected:
                self._edges.add_arrays(dst[sel], src[sel], inv)
        n_edges = len(src)
        self.common_words = sorted(set(self.common_words) | {scan.patterns[i] for i in np.flatnonzero(scan.common())})
        self._count("mention_documents", len(doc_nodes))
        self._count("mention_patterns", len(names) - (int(scan.common().sum()) if cfg.common_words == "skip" else 0))
        self._count("mention_edges", n_edges)
        self._count("mention_edges_common_word", int(common.sum()))
        for k, v in {**dropped, **scan.counts()}.items():
            self._count(k, v)
        self.sources.append({"kind": "mentions", "undirected": undirected, **cfg.model_dump()})
        return n_edges

    # ------------------------------------------------------------------ finalize

    def resolve_documents(self, docstore: Any) -> int:
        """Map every node to its document in ``docstore`` (by doc id, else by title); return #found."""
        found = 0
        for n in range(len(self._eid)):
            if self._placeholder[n] or n in self._redirect:
                continue
            doc = _docstore_get(docstore, self._doc[n]) if self._doc[n] is not None else None
            if doc is None:
                doc = _docstore_get_by_title(docstore, self._title[n])
            self._doc[n] = None if doc is None else str(doc.doc_id)
            found += doc is not None
        self._count("nodes_with_document_in_docstore", found)
        return found

    def _drop_redundant_inverses(
        self, src: np.ndarray, dst: np.ndarray, rel: np.ndarray, relations: list[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Drop ``v -"r (inverse)"-> u`` when the source itself states ``v -r-> u`` (symmetric facts
        such as borders are listed from both sides; the stated label is the better one)."""
        base = np.array([-2] + [self._rel.get(inverse_relation(r), -2) if r.endswith(INVERSE_SUFFIX) else -2
                                for r in relations], dtype=np.int64)  # fmt: skip
        inv_base = base[rel + 1]
        is_inv = inv_base >= 0
        if not is_inv.any():
            self.counts["redundant_inverse_edges_dropped"] = 0
            return src, dst, rel
        n_rel = len(relations) + 1
        n = int(max(src.max(), dst.max())) + 1
        key = (src.astype(np.int64) * n + dst) * n_rel + (rel.astype(np.int64) + 1)
        want = (src[is_inv].astype(np.int64) * n + dst[is_inv]) * n_rel + (inv_base[is_inv] + 1)
        redundant = np.zeros(len(src), dtype=bool)
        redundant[np.flatnonzero(is_inv)] = np.isin(want, key)
        self.counts["redundant_inverse_edges_dropped"] = int(redundant.sum())
        keep = ~redundant
        return src[keep], dst[keep], rel[keep]

    def build(
        self, out: Path | str | None = None, *, docstore: Any = None, extra_meta: dict[str, Any] | None = None
    ) -> Graph:
        """Finish: merge redirects, drop self-links and links to missing pages, dedupe, write CSR."""
        if docstore is not None:
            self.resolve_documents(docstore)
        n_all = len(self._eid)
        src, dst, rel = self._edges.arrays()
        # 1. follow redirects (merged nodes)
        if self._redirect:
            remap = np.arange(n_all, dtype=np.int32)
            for k in self._redirect:
                remap[k] = self._find(k)
            src, dst = remap[src], remap[dst]
        # 2. drop self-links and edges to placeholders (pages absent from the input)
        placeholder = np.frombuffer(bytes(self._placeholder), dtype=np.uint8).astype(bool)
        self_loop = src == dst
        missing = placeholder[dst] | placeholder[src]
        self.counts["self_links_dropped"] = int((self_loop & ~missing).sum())
        self.counts["edges_to_missing_pages"] = int(missing.sum())
        keep_e = ~(self_loop | missing)
        src, dst, rel = src[keep_e], dst[keep_e], rel[keep_e]
        # 3. compact node numbering (placeholders and merged-away nodes go)
        keep_n = ~placeholder
        if self._redirect:
            keep_n[np.fromiter(self._redirect, dtype=np.int64)] = False
        new_id = np.cumsum(keep_n, dtype=np.int64) - 1
        src, dst = new_id[src].astype(np.int32), new_id[dst].astype(np.int32)
        kept = np.flatnonzero(keep_n)
        n = len(kept)
        self.counts["missing_pages_linked"] = int(placeholder.sum())
        # 4. sort by (src, dst, label rank, rel) and drop exact duplicates. Within a (src, dst) run the
        #    most informative label comes first (a fact, then "mentions", then none): walkers that
        #    treat a run as one neighbour report that label.
        relations = sorted(self._rel, key=self._rel.__getitem__)
        rank_of = np.array([3] + [_label_rank(r) for r in relations], dtype=np.int8)
        order = np.lexsort((rel, rank_of[rel + 1], dst, src))
        src, dst, rel = src[order], dst[order], rel[order]
        del order
        if len(src):
            dup = np.zeros(len(src), dtype=bool)
            dup[1:] = (src[1:] == src[:-1]) & (dst[1:] == dst[:-1]) & (rel[1:] == rel[:-1])
            self.counts["duplicate_edges_dropped"] = int(dup.sum())
            src, dst, rel = src[~dup], dst[~dup], rel[~dup]
            src, dst, rel = self._drop_redundant_inverses(src, dst, rel, relations)
            multi = bool(np.any((src[1:] == src[:-1]) & (dst[1:] == dst[:-1])))
        else:
            self.counts["duplicate_edges_dropped"] = 0
            multi = False
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
        eids = [self._eid[i] for i in kept]
        titles = [self._title[i] for i in kept]
        docs = [self._doc[i] for i in kept]
        aliases = [self._aliases.get(int(i), []) for i in kept]
        has_doc = np.fromiter((d is not None for d in docs), dtype=bool, count=n)
        meta = {
            "sources": self.sources,
            "counts": dict(sorted(self.counts.items())),
            "multi_edges": multi,
            **({"mention_common_words": self.common_words[:MAX_COMMON_WORDS_LISTED]} if self.common_words else {}),
            "directed_sources": [s["kind"] for s in self.sources if not s.get("undirected", True)],
            **(extra_meta or {}),
        }
        g = Graph(indptr, dst, rel, has_doc, relations, node_table(eids, titles, docs, aliases), meta=meta)
        if out is not None:
            g.save(out)
            return Graph.load(out)
        return g


def _label_rank(relation: str) -> int:
    """Order of labels within a (src, dst) run: a stated fact, a mention, a common-word mention (then none)."""
    base = inverse_relation(relation) if relation.endswith(INVERSE_SUFFIX) else relation
    return {MENTION_RELATION: 1, COMMON_MENTION_RELATION: 2}.get(base, 0)


def _docstore_get(docstore: Any, doc_id: str | None) -> Document | None:
    if doc_id is None:
        return None
    try:
        doc = docstore.get(doc_id)
    except KeyError:
        return None
    return doc  # type: ignore[no-any-return]


def _docstore_get_by_title(docstore: Any, title: str) -> Document | None:
    getter = getattr(docstore, "get_by_title", None)
    if getter is None:
        return None
    try:
        doc = getter(title)
    except KeyError:
        return None
    return doc  # type: ignore[no-any-return]
