"""Graph building from triples (2Wiki evidences: the hand-made world, then the real dev set), KILT anchors,
mentions; CSR round-trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from longtracerl.graph.build import GraphBuilder
from longtracerl.graph.readers import GraphInputError
from longtracerl.graph.store import Graph, GraphFormatError
from longtracerl.records import Document


def out_edges(g: Graph, title: str) -> set[tuple[str, str | None]]:
    n = g.node_by_title(title)
    assert n is not None, title
    return {(g.titles[int(v)], g.relation_name(int(r))) for v, r in zip(g.neighbors(n), g.neighbor_relations(n), strict=True)}


def test_triples_from_2wiki_evidences(two_wiki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dev = two_wiki.dev
    records = json.loads(dev.read_text())
    b = GraphBuilder()
    b.add_triples(dev)  # default: undirected, reverse edges labelled "(inverse)"
    g = b.build(tmp_path / "g")
    n_triples = sum(len(r["evidences"]) for r in records)
    assert g.meta["counts"]["triples"] + g.meta["counts"].get("self_triples_dropped", 0) == n_triples
    # every evidence is an edge with its label, and the inverse edge exists too
    for r in records[:50]:
        for s, rel, o in r["evidences"]:
            if s == o:
                continue
            assert (o, rel) in out_edges(g, s)
            assert (s, rel + " (inverse)") in out_edges(g, o)
    assert {"director", "father", "country of citizenship"} <= set(g.relations)
    s, rel, o = records[0]["evidences"][0]
    assert g.entity(g.node_by_title(s)).title == s  # type: ignore[arg-type]
    if two_wiki.name == "handmade":  # 20 evidences; "director" twice between the same two nodes counts once
        assert n_triples == 20 and out_edges(g, "Lukas Moravec") == {
            ("Tomas Moravec", "father"), ("Edda Moravec", "father (inverse)")}


def test_directed_triples_have_no_reverse_edges(two_wiki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    b = GraphBuilder()
    b.add_triples(two_wiki.dev, undirected=False)
    g = b.build(tmp_path / "g")
    assert not any(r.endswith("(inverse)") for r in g.relations)
    s, rel, o = json.loads(two_wiki.dev.read_text())[0]["evidences"][0]
    assert (o, rel) in out_edges(g, s)
    assert (s, rel) not in out_edges(g, o)


def test_triples_jsonl_tsv_entities_and_aliases(tmp_path: Path) -> None:
    ent = tmp_path / "entities.jsonl"
    ent.write_text(
        json.dumps({"entity_id": "Q1", "title": "France", "doc_id": "d-fr", "aliases": ["French Republic"]}) + "\n"
        + json.dumps({"entity_id": "Q2", "title": "Paris", "doc_id": "d-pa"}) + "\n"
    )  # fmt: skip
    jl = tmp_path / "t.jsonl"
    jl.write_text(json.dumps({"subject": "French Republic", "relation": "capital", "object": "Paris"}) + "\n")
    tsv = tmp_path / "t.tsv"
    tsv.write_text("subject\trelation\tobject\nQ2\tlocated in\tQ1\nParis\ttwinned with\tRome\n")
    b = GraphBuilder()
    b.add_entities(ent)
    b.add_triples(jl, undirected=False)
    b.add_triples(tsv, undirected=False)
    g = b.build(tmp_path / "g")
    assert ("Paris", "capital") in out_edges(g, "France")  # subject resolved through its alias
    assert ("France", "located in") in out_edges(g, "Paris")  # ids resolved to the labelled entities
    assert ("Rome", "twinned with") in out_edges(g, "Paris")
    fr = g.entity(g.node_of("Q1"))
    assert fr.doc_id == "d-fr" and fr.aliases == ["French Republic"]
    assert g.doc_ids[g.node_by_title("Rome")] is None  # type: ignore[index]
    assert g.has_doc.sum() == 2


def test_bad_triples_name_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps({"subject": "A", "relation": "r", "object": "B"}) + "\n{not json\n"
                 + json.dumps({"subject": "C"}) + "\n")  # fmt: skip
    with pytest.raises(GraphInputError, match=r"t\.jsonl:2:"):
        GraphBuilder().add_triples(p)
    b = GraphBuilder()
    st = b.add_triples(p, skip_bad=True)
    assert (st.records, st.skipped_bad) == (1, 2)
    assert b.build().n_edges == 2  # A->B and its inverse survive
    tsv = tmp_path / "t.tsv"
    tsv.write_text("A\tr\tB\nonly two\tfields\n")
    with pytest.raises(GraphInputError, match=r"t\.tsv:2: expected 3 tab-separated fields"):
        GraphBuilder().add_triples(tsv)


def test_kilt_anchors(tmp_path: Path, kilt) -> None:  # type: ignore[no-untyped-def]
    write_kilt, page = kilt
    p = write_kilt(
        tmp_path / "kilt.jsonl",
        [
            page("1", "Alpha", [{"href": "Beta", "wikipedia_title": "Beta", "wikipedia_id": "2"},
                                {"href": "Gamma%20ray"},  # no id, no title: decoded from href
                                {"href": "Missing", "wikipedia_title": "Missing page", "wikipedia_id": "99"},
                                {"href": "Alpha", "wikipedia_title": "Alpha", "wikipedia_id": "1"},  # self
                                {"href": "Beta", "wikipedia_title": "Beta", "wikipedia_id": "2"}]),  # duplicate
            page("2", "Beta", [{"wikipedia_id": "3"}, {"href": "nowhere"}]),  # by id only; missing by href
            page("3", "Gamma ray", [{"href": "delta", "wikipedia_title": "Delta"}]),  # target defined later
            page("4", "Delta", []),
        ],
    )  # fmt: skip
    b = GraphBuilder()
    st = b.add_kilt(p)
    g = b.build(tmp_path / "g")
    assert st.records == 4 and g.n_nodes == 4
    c = g.meta["counts"]
    assert c["kilt_anchors"] == 8
    assert c["edges_to_missing_pages"] == 2 and c["missing_pages_linked"] == 2
    assert c["self_links_dropped"] == 1 and c["duplicate_edges_dropped"] == 1
    assert out_edges(g, "Alpha") == {("Beta", None), ("Gamma ray", None)}
    assert out_edges(g, "Beta") == {("Gamma ray", None)}
    assert out_edges(g, "Gamma ray") == {("Delta", None)}
    assert out_edges(g, "Delta") == set()  # directed: no reverse edges
    assert g.entity(g.node_of("3")).doc_id == "3" and bool(g.has_doc.all())


def test_kilt_bad_line_and_skip(tmp_path: Path, kilt) -> None:  # type: ignore[no-untyped-def]
    write_kilt, page = kilt
    p = write_kilt(tmp_path / "k.jsonl", [page("1", "A", [{"wikipedia_id": "2"}]), page("2", "B", [])])
    with p.open("a") as f:
        f.write('{"wikipedia_title": "no id"}\n{broken\n')
    with pytest.raises(GraphInputError, match=r"k\.jsonl:3: field 'wikipedia_id'"):
        GraphBuilder().add_kilt(p)
    b = GraphBuilder()
    st = b.add_kilt(p, skip_bad=True)
    assert (st.records, st.skipped_bad) == (2, 2)
    assert b.build().n_edges == 1


def test_kilt_gz_and_undirected(tmp_path: Path, kilt) -> None:  # type: ignore[no-untyped-def]
    import gzip

    write_kilt, page = kilt
    raw = write_kilt(tmp_path / "k.jsonl", [page("1", "A", [{"wikipedia_id": "2"}]), page("2", "B", [])])
    gz = tmp_path / "k.jsonl.gz"
    gz.write_bytes(gzip.compress(raw.read_bytes()))
    b = GraphBuilder()
    b.add_kilt(gz, undirected=True, relation="links to")
    g = b.build()
    assert out_edges(g, "B") == {("A", "links to (inverse)")}


def test_mentions_whole_words_min_length_and_ambiguity(tmp_path: Path) -> None:
    docs = [
        Document(doc_id="d1", title="France", text="France borders Spain and Germany. Francesco is not France-like."),
        Document(doc_id="d2", title="Spain", text="Spain is south of France; Spainish is no word. The Iran is far."),
        Document(doc_id="d3", title="Germany", text="Nothing here mentions Spain's neighbours... except Spain."),
        Document(doc_id="d4", title="Iran", text="Iran is short but long enough."),
        Document(doc_id="d5", title="The", text="A stop title."),
        Document(doc_id="d6", title="Chad", text="Chad."),
        Document(doc_id="d7", title="Chad Smith", text="A drummer, not Chad the country. Chad Smith drums."),
    ]
    b = GraphBuilder()
    n = b.add_mentions(docs, min_title_len=4)
    g = b.build(tmp_path / "g")
    assert out_edges(g, "France") == {("Spain", "mentions"), ("Germany", "mentions")}  # "France-like": '-' is a boundary, but self
    assert out_edges(g, "Spain") == {("France", "mentions"), ("Iran", "mentions")}  # not "Spainish"
    assert out_edges(g, "Germany") == {("Spain", "mentions")}
    assert out_edges(g, "Iran") == set()
    assert ("The", "mentions") not in out_edges(g, "Spain")  # stop title
    # leftmost-longest: "Chad Smith" is one mention, "Chad" alone another
    assert out_edges(g, "Chad Smith") == {("Chad", "mentions")}
    assert n == g.n_edges == 6
    shorter = GraphBuilder()
    shorter.add_mentions(docs, min_title_len=5)
    assert shorter.build().n_edges == 4  # "Iran" and "Chad" are no longer patterns


def test_mentions_keep_nodes_of_other_sources(tmp_path: Path) -> None:
    b = GraphBuilder()
    b.add_triple_records([])
    fr = b.entity("Q142", "France", aliases=["French Republic"])
    es = b.entity("Q29", "Spain")
    b.add_edge(fr, es, "shares border with", undirected=True)
    docs = [Document(doc_id="d-fr", title="France", text="The French Republic is west of Spain."),
            Document(doc_id="d-es", title="Spain", text="Spain.")]  # fmt: skip
    b.add_mentions(docs)
    g = b.build(tmp_path / "g")
    assert g.n_nodes == 2
    assert g.entity(g.node_of("Q142")).doc_id == "d-fr"
    assert out_edges(g, "France") == {("Spain", "shares border with"), ("Spain", "mentions")}
    assert g.meta["multi_edges"] is True


def test_csr_round_trip(tmp_path: Path, world_factory) -> None:  # type: ignore[no-untyped-def]
    g = world_factory(tmp_path / "w", n=120, m=400)
    h = Graph.load(tmp_path / "w")
    assert isinstance(h.indices, np.memmap)
    for name in ("indptr", "indices", "relation_ids", "has_doc"):
        assert np.array_equal(np.asarray(getattr(g, name)), np.asarray(getattr(h, name))), name
    assert h.entity_ids == g.entity_ids and h.titles == g.titles and h.doc_ids == g.doc_ids
    assert h.relations == g.relations
    assert np.all(np.diff(np.asarray(h.indptr)) >= 0) and h.indptr[-1] == h.n_edges
    for u in range(h.n_nodes):  # rows sorted by destination, no exact duplicates
        row = list(zip(h.neighbors(u).tolist(), h.neighbor_relations(u).tolist(), strict=True))
        assert row == sorted(row) and len(set(row)) == len(row)
    e = h.edges(3)
    assert all(x.src == h.entity_ids[3] for x in e) and len(e) == h.degree(3)
    (tmp_path / "w" / "indices.npy").unlink()
    with pytest.raises(GraphFormatError, match="indices.npy: missing"):
        Graph.load(tmp_path / "w")
    with pytest.raises(GraphFormatError, match="not a graph directory"):
        Graph.load(tmp_path)


def test_resolve_documents_through_a_docstore(tmp_path: Path) -> None:
    from longtracerl.corpus.docstore import DocStore, build_docstore

    build_docstore(tmp_path / "ds", [Document(doc_id="x1", title="Alpha", text="Alpha is first."),
                                     Document(doc_id="x2", title="Beta", text="Beta follows Alpha.")])  # fmt: skip
    store = DocStore.open(tmp_path / "ds")
    b = GraphBuilder()
    a = b.entity("Q1", "Alpha")
    c = b.entity("Q2", "Beta", doc_id="stale-id")  # not in the store: re-resolved by title
    d = b.entity("Q3", "Gamma", doc_id="x9")  # neither id nor title in the store: no document
    b.add_edge(a, c, "r")
    b.add_edge(c, d, "r")
    b.add_mentions(store)  # the real DocStore iterated twice (nodes, then texts)
    g = b.build(tmp_path / "g", docstore=store)
    assert g.doc_ids == ["x1", "x2", None] and g.meta["counts"]["nodes_with_document_in_docstore"] == 2
    assert ("Alpha", "mentions") in out_edges(g, "Beta")


def test_mentions_on_2wiki_paragraphs(two_wiki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import re

    rows = json.loads(two_wiki.corpus.read_text())
    docs = [Document(doc_id=f"p{i}", title=r["title"], text=r["text"]) for i, r in enumerate(rows)]
    b = GraphBuilder()
    b.add_mentions(docs)
    g = b.build(tmp_path / "g")
    assert g.n_nodes == len(docs)
    if two_wiki.name == "handmade":
        # "Tessaly ... home of Harrowgate Pictures and of the Quillmere Review." (Harrowgate Pictures is no page here)
        assert out_edges(g, "Tessaly") == {("Quillmere Review", "mentions")}
        assert ("Dunmore Athletic", "mentions") in out_edges(g, "Brannock Town")
        assert ("Dunmore", "mentions") in out_edges(g, "Dunmore Athletic")
        assert not out_edges(g, "Yara Quist")  # names no other page
    else:
        assert g.n_edges > 1000
        assert ("Lothair II", "mentions") in out_edges(g, "Teutberga")  # "... by marriage to Lothair II."
    text = {d.title: d.text for d in docs}
    for u in range(0, g.n_nodes, 7):  # precision: every edge is a whole-word occurrence of the title
        for v in g.neighbors(u):
            t = g.titles[int(v)]
            assert re.search(rf"(?<!\w){re.escape(t)}(?!\w)", text[g.titles[u]]), (g.titles[u], t)
