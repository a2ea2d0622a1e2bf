"""The `graph build`, `graph stats` and `walk` commands, on files written here and on the sample world."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from longtracerl.cli import app
from longtracerl.graph.store import Graph
from longtracerl.io import read_records
from longtracerl.records import Chain, Rejection

runner = CliRunner()


def kilt_world(tmp_path: Path, kilt) -> Path:  # type: ignore[no-untyped-def]
    write_kilt, page = kilt
    n = 40
    pages = [page(str(i), f"Page {i}", [{"wikipedia_id": str((i * 7 + k) % n)} for k in (1, 2, 3)]
                  + [{"href": f"Nowhere {i}"}]) for i in range(n)]  # fmt: skip
    pages.append(page("99", "List of pages", [{"wikipedia_id": "1"}]))
    return write_kilt(tmp_path / "kilt.jsonl", pages)


def test_build_stats_walk_on_kilt(tmp_path: Path, kilt) -> None:  # type: ignore[no-untyped-def]
    src = kilt_world(tmp_path, kilt)
    out = tmp_path / "g"
    r = runner.invoke(app, ["graph", "build", "--kilt", str(src), "--out", str(out)])
    assert r.exit_code == 0, r.output
    g = Graph.load(out)
    assert g.n_nodes == 41 and g.meta["counts"]["edges_to_missing_pages"] == 40
    r = runner.invoke(app, ["graph", "stats", str(out), "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    assert s["nodes"] == 41 and s["edges"] == g.n_edges and s["weak_components"]["count"] == 1
    r = runner.invoke(app, ["graph", "stats", str(out)])
    assert r.exit_code == 0 and "weak components" in r.output
    chains = tmp_path / "chains.jsonl"
    args = ["walk", "--graph", str(out), "--n", "30", "--hops", "4", "--seed", "3", "--out", str(chains)]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    got = read_records(chains, Chain)
    rejected = read_records(tmp_path / "chains.rejected.jsonl", Rejection)
    assert len(got) + len(rejected) == 30 and len(got) > 0
    assert all(len(c.hops) == 5 and c.walk["max_hops"] == 4 and c.seed == 3 for c in got)
    assert not any(h.title == "List of pages" for c in got for h in c.hops)
    before = chains.read_bytes()
    r = runner.invoke(app, args)  # resumed: nothing new
    assert r.exit_code == 0 and "0 new chains" in r.output and chains.read_bytes() == before
    r = runner.invoke(app, [*args[:-2], "--chooser", "degree", "--out", str(tmp_path / "deg.jsonl")])
    assert r.exit_code == 0, r.output
    deg = read_records(tmp_path / "deg.jsonl", Chain)
    assert deg and all(c.walk["chooser"] == "degree" and len(c.hops) == 5 for c in deg)


def test_cli_errors_are_clear(tmp_path: Path, kilt) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"wikipedia_id": "1", "wikipedia_title": "A", "anchors": []}\n{oops\n')
    r = runner.invoke(app, ["graph", "build", "--kilt", str(bad), "--out", str(tmp_path / "g")])
    assert r.exit_code == 1 and "bad.jsonl:2" in r.output
    r = runner.invoke(app, ["graph", "build", "--kilt", str(bad), "--skip-bad", "--out", str(tmp_path / "g")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["walk", "--graph", str(tmp_path / "g"), "--out", str(tmp_path / "c.jsonl")])
    assert r.exit_code == 1 and "no seed node" in r.output
    r = runner.invoke(app, ["graph", "stats", str(tmp_path)])
    assert r.exit_code == 1 and "not a graph directory" in r.output
    r = runner.invoke(app, ["walk", "--graph", str(tmp_path / "g"), "--chooser", "bogus"])
    assert r.exit_code != 0 and "unknown chooser" in r.output
    r = runner.invoke(app, ["walk", "--graph", str(tmp_path / "g"), "--chooser", "llm"])  # no LLM given
    assert r.exit_code != 0 and "--chooser llm needs an LLM" in r.output and "--llm" in r.output
    r = runner.invoke(app, ["walk", "--graph", str(tmp_path / "g"), "--chooser", "llm", "--llm", "openai"])
    assert r.exit_code != 0 and "--base-url" in r.output
    r = runner.invoke(app, ["graph", "build", "--triples", str(bad)])
    assert r.exit_code != 0 and "--out" in r.output


def test_walk_config_yaml(tmp_path: Path, kilt) -> None:  # type: ignore[no-untyped-def]
    src = kilt_world(tmp_path, kilt)
    assert runner.invoke(app, ["graph", "build", "--kilt", str(src), "--out", str(tmp_path / "g")]).exit_code == 0
    cfg = tmp_path / "walk.yaml"
    cfg.write_text("n_walks: 12\nmin_hops: 2\nmax_hops: 3\njump_prob: 1.0\n")
    out = tmp_path / "c.jsonl"
    r = runner.invoke(app, ["walk", "--graph", str(tmp_path / "g"), "--config", str(cfg), "--out", str(out)])
    assert r.exit_code == 0, r.output
    chains = read_records(out, Chain)
    assert len(chains) == 12 and all(h.jumped for c in chains for h in c.hops[1:])
    cfg.write_text("n_walks: 2\nmax_hops: 3\nno_such_field: 1\n")
    r = runner.invoke(app, ["walk", "--graph", str(tmp_path / "g"), "--config", str(cfg), "--out", str(out)])
    assert r.exit_code != 0 and "no_such_field" in r.output


def test_no_arguments_on_the_sample_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["graph", "build"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["graph", "stats", "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    assert s["nodes"] >= 200 and s["nodes_with_document"] >= 200 and s["edges"] > 1000
    r = runner.invoke(app, ["walk"])
    assert r.exit_code == 0, r.output
    chains = read_records(tmp_path / "chains.jsonl", Chain)
    assert len(chains) >= 80  # 100 walks of 8 moves on the Factbook graph: nearly all succeed
    assert all(len(c.hops) == 9 and all(h.doc_id for h in c.hops) for c in chains)


def test_build_from_2wiki_triples_and_mentions_with_a_docstore(two_wiki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from longtracerl.corpus.docstore import build_docstore
    from longtracerl.records import Document

    rows = json.loads(two_wiki.corpus.read_text())
    build_docstore(tmp_path / "ds", [Document(doc_id=f"p{i}", title=r["title"], text=r["text"]) for i, r in enumerate(rows)])
    out = tmp_path / "g"
    r = runner.invoke(app, ["graph", "build", "--triples", str(two_wiki.dev), "--mentions",
                            "--docstore", str(tmp_path / "ds"), "--out", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    g = Graph.load(out)
    assert "mentions" in g.relations and "director" in g.relations
    # every paragraph page is a node with its document
    assert g.has_doc.sum() == len(rows) if two_wiki.name == "handmade" else g.has_doc.sum() >= 6000
    title = "Quillmere Review" if two_wiki.name == "handmade" else "Teutberga"
    n = g.node_by_title(title)
    assert n is not None and g.doc_ids[n] is not None and g.doc_ids[n].startswith("p")
    if two_wiki.name == "handmade":  # the evidence object and the corpus page are one node
        assert ("Orla Venn", "employer (inverse)") in {(g.titles[int(v)], g.relation_name(int(rel)))
                                                       for v, rel in zip(g.neighbors(n), g.neighbor_relations(n), strict=True)}
    chains = tmp_path / "c.jsonl"
    r = runner.invoke(app, ["walk", "--graph", str(out), "--n", "200", "--hops", "3", "--out", str(chains)])
    assert r.exit_code == 0, r.output
    got = read_records(chains, Chain)
    assert got and all(all(h.doc_id for h in c.hops) for c in got)


@pytest.mark.llm
@pytest.mark.slow
def test_walk_with_the_llm_chooser_and_the_bundled_model(tmp_path: Path) -> None:
    """``walk --chooser llm --llm local``: the real bundled model picks every hop (PAPER.md 2a)."""
    out = tmp_path / "chains.jsonl"
    args = ["walk", "--chooser", "llm", "--llm", "local", "--n", "2", "--hops", "2", "--out", str(out),
            "--llm-cache", str(tmp_path / "cache")]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    chains = read_records(out, Chain)
    rejected = read_records(tmp_path / "chains.rejected.jsonl", Rejection) if (tmp_path / "chains.rejected.jsonl").exists() else []
    assert len(chains) + len(rejected) == 2 and chains
    assert all(len(c.hops) == 3 for c in chains)
    assert "LLM chooser" in r.output and "'calls': 0" not in r.output
    # rerun: ids already written are skipped (resumable), no new LLM calls needed
    r = runner.invoke(app, args)
    assert r.exit_code == 0 and "0 new chains" in r.output


def test_build_mentions_common_words_option(tmp_path: Path) -> None:
    from longtracerl.corpus.docstore import build_docstore
    from longtracerl.records import Document

    docs = [Document(doc_id="p", title="Paris", text="Paris is a city on a river. The River Seine? No: the city is old."),
            Document(doc_id="c", title="City", text="A city is a large settlement. A city has a mayor; a city grows."),
            Document(doc_id="f", title="France", text="France has Paris, a city. Every city of France has a City hall.")]
    build_docstore(tmp_path / "ds", docs)
    for mode, rel in (("skip", None), ("keep", "mentions (common word)")):
        out = tmp_path / mode
        r = runner.invoke(app, ["graph", "build", "--mentions", "--docstore", str(tmp_path / "ds"), "--out", str(out),
                                "--common-words", mode])
        assert r.exit_code == 0, r.output
        s = json.loads(runner.invoke(app, ["graph", "stats", str(out), "--json"]).output)
        assert s["mentions"]["common_word_titles"] == 1 and s["mentions"]["most_linked"][0][0] == "Paris"
        assert s["relations"].get("mentions (common word)", 0) == (0 if rel is None else 1)  # "a City hall"
    r = runner.invoke(app, ["graph", "stats", str(tmp_path / "keep")])
    assert "edges into common-word titles" in r.output and "most-linked target" in r.output
    r = runner.invoke(app, ["graph", "build", "--mentions", "--docstore", str(tmp_path / "ds"), "--out",
                            str(tmp_path / "x"), "--common-words", "sometimes"])
    assert r.exit_code != 0 and "--common-words" in r.output
