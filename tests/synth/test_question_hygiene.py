"""Hand-made cases for what an outside reader checks in a question: clue hygiene (each named rejection), type
words from the page, the seeded phrasings read back by the solver's parser, the second reader, corpus
statistics stemmed by the index's analyzer, and at most ``max_per_answer`` questions per answer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from longtracerl.corpus.docstore import DocStore, build_docstore
from longtracerl.corpus.search import TantivySearch, build_index
from longtracerl.corpus.stats import MemoryTermStats, NoTermStats, build_term_stats, stats_for
from longtracerl.graph.build import GraphBuilder
from longtracerl.io import read_records
from longtracerl.records import Chain, Document, Hop, Question, Rejection
from longtracerl.synth.agent import parse_question
from longtracerl.synth.questions import Draft, TemplateQuestionWriter, ValidationConfig, write_questions
from longtracerl.synth.questions.checks import chain_checks
from longtracerl.synth.questions.clues import ClueContext
from longtracerl.synth.questions.hygiene import problem
from longtracerl.synth.questions.obfuscate import blur
from longtracerl.synth.questions.phrasing import (
    CLUE_LEADS,
    Phrasing,
    entry_step,
    move_step,
    page_type,
    parse_steps,
    question,
    render_clue,
)

PAGES = [
    Document(doc_id=f"p{i}", title=f"Village {i}", text=f"Village {i} is a village in the valley. The village has a "
             f"church, a school and a market where farmers sell barley and rye.") for i in range(12)
] + [
    Document(doc_id="lh", title="Harbour Lights", text="Harbour Lights is a drama film about dock workers who "
             "strike for a safer port. The film was shot in a lighthouse near the harbour."),
    Document(doc_id="cw", title="Countries", text="Countries of the valley trade with one another."),
]


@pytest.mark.parametrize("clue,kind", [
    ("Fish and this entity Service manages the wildlife refuges of the coast", "partial_mask"),
    ("the criminal this entity Sheppard was convicted of murder", "partial_mask"),
    ("this entity Anthony Morrison was an American film producer and actor", "partial_mask"),
    ("Country Start numbered year on 1 January Adoption of Denmark Norway Sweden 1522 1582 1700", "table_row"),
    ("Gold Silver Bronze Total Rank Nation Medal Table Olympic Games", "table_row"),
    ("the 1 / -story childhood home of the painter", "orphan_symbol"),
    ("a painter () who lived in the harbour district", "orphan_symbol"),
    ("000 Indians as indentured laborers", "orphan_symbol"),  # "60,000" cut at its comma
    ("the 17th most populous of the about 50 United States", "blur_artefact"),
    ("it (the 1880s the 1980s) was an American", "blur_artefact"),  # a lifespan that lost its dash
])
def test_each_hygiene_rejection_is_named(clue: str, kind: str) -> None:
    bad = problem(clue)
    assert bad is not None and bad[0] == kind, bad


@pytest.mark.parametrize("clue", [
    "Originally a Dutch colony in the 17th century, by the 1810s this entity had become a British possession",
    "in the 1970s provoked Tanzania to invade this entity, depose Amin",
    "one of the 50 states, admitted to the union in the 1810s",
    "this entity is a 1960s splatter film about a psychotic painter",
])
def test_clean_clues_pass(clue: str) -> None:
    assert problem(clue) is None


def test_blur_keeps_true_english_and_too_common_needs_rare_words() -> None:
    assert blur("the 17th most populous of the 50 United States") == "the 17th most populous of the 50 United States"
    assert blur("it has 42 ethnic groups") == "it has about 40 ethnic groups"
    stats = MemoryTermStats(PAGES)
    common = "the village has a church and a school"
    rare = "a drama film about dock workers who strike"
    assert problem(common, stats, list(dict.fromkeys(stats.analyze(common))))[0] == "too_common"  # type: ignore[index]
    assert problem(rare, stats, list(dict.fromkeys(stats.analyze(rare)))) is None


def test_type_words_come_from_the_page() -> None:
    def t(text: str) -> str | None:
        return page_type(Document(doc_id="x", title="X", text=text))

    assert t("Fizzco\nFizzco is a soft drink manufacturer based in Atlanta.") == "soft drink manufacturer"
    assert t("Dune Sea is a 1968 epic science fiction film directed by Ann Bell.") == "1960s science fiction film"
    assert t("Bo Lind is an American entrepreneur and investor.") == "investor"
    assert t("Maniacs is a 1964 American splatter and hixploitation film written by Lew.") == "1960s hixploitation film"
    assert t('"Leilani" is a song featured in the 1937 film.') == "song"  # not "song featured"
    assert t('"Ode" is a 1977 song composed by Kander.') == "1970s song"
    assert t('"Ode" is a much performed and composed by Kander.') is None  # "the composed" is no type
    assert t("Background: the islands were settled late.\nGovernment type: parliamentary republic") == "country"
    assert t("Government type: overseas territory\nDependency status: overseas territory of the UK") == "territory"
    assert t("The term was first used in the 1890s by traders.") is None  # the page gives no type: "entity"
    # type words are checked like clues: naming a chain entity (or the answer) falls back to "entity"
    d = Document(doc_id="x", title="Ray Hill", text="Ray Hill is a Walsh film directed by Raoul Walsh.")
    assert TemplateQuestionWriter.type_words(d, ["Raoul Walsh", "Walsh"]) == "entity"
    assert TemplateQuestionWriter.type_words(d, ["Somebody Else"]) == "Walsh film"


def test_every_seeded_phrasing_reads_back_as_its_steps() -> None:
    picks = {(p.frame, p.lead, p.start) for p in (Phrasing.pick(f"c{i}") for i in range(60))}
    assert len({f for f, _, _ in picks}) == 2 and len({s for _, _, s in picks}) == 3 and len(picks) >= 8
    for frame in (0, 1):
        for lead in range(len(CLUE_LEADS)):
            for start in range(3):
                p = Phrasing(frame=frame, lead=lead, start=start)
                steps = [entry_step("drama film", "It is about dock workers, who strike", p),
                         move_step("a person its page mentions", "An actor, trained in drama", p, 1, last=False),
                         move_step("its director", "", p, 2, last=False),
                         entry_step("harbour town", "It has a lighthouse", p, restart=True),
                         move_step("a country it shares a border with", "It exports fish", p, 4, last=True)]
                for ask in ("capital", None):
                    text = question(steps, ask, "country", p)
                    assert text.count("?") == 1 and "entity" not in text  # one question, no "entity"
                    parsed = parse_steps(text)
                    assert parsed is not None, text
                    got, asked = parsed
                    assert [k for k, _, _ in got] == ["start", "move", "move", "restart", "move"], text
                    assert [c for _, _, c in got] == ["It is about dock workers, who strike",
                                                      "An actor, trained in drama", "", "It has a lighthouse",
                                                      "It exports fish"]
                    assert got[2][1] == "its director" and got[4][1] == "a country it shares a border with"
                    assert ("what is the capital of the country" in asked.lower()) == (ask is not None), asked
                    # the solver reads the same steps
                    assert [s.kind for s in parse_question(text)[0]] == [k for k, _, _ in got]
    assert render_clue("this entity's capital lies on this entity's river") == "Its capital lies on its river"


def _world(tmp: Path, docs: list[Document], edges: list[tuple[str, str]]) -> tuple[DocStore, TantivySearch, object]:
    build_docstore(tmp / "docs", docs)
    store = DocStore.open(tmp / "docs")
    build_index(tmp / "index", store, progress=False)
    b = GraphBuilder()
    nodes = {d.doc_id: b.entity(d.doc_id, d.title, d.doc_id) for d in docs}
    for s, d in edges:
        b.add_edge(nodes[s], nodes[d], "mentions")
    return store, TantivySearch.load(tmp / "index", store), b.build(tmp / "graph")


def test_statistics_are_the_index_terms_and_the_stored_copy_is_identical(tmp_path: Path) -> None:
    store, search, _ = _world(tmp_path, PAGES, [])
    idx = stats_for(search, store)
    # the index stores stemmed terms: "countries" is looked up as "countri", not as an unseen raw word
    assert idx.analyze("countries villages") == ["countri", "villag"]
    assert idx.doc_freq("villag") == 12 and idx.doc_freq("villages") == 0
    stored = build_term_stats(store, tmp_path / "ts.sqlite", idx.analyzer)
    vocab = {t for d in PAGES for t in idx.analyze(f"{d.title}\n{d.text}")}
    assert {t: stored.doc_freq(t) for t in vocab} == {t: idx.doc_freq(t) for t in vocab}
    assert (stored.n_docs, stored.profile()) == (idx.n_docs, idx.profile())
    assert stored.idf("countri") == idx.idf("countri") > idx.idf("villag")
    with pytest.raises(NoTermStats):
        stats_for(object(), None)  # a backend without statistics and nothing to compute them from
    with pytest.raises(NoTermStats):
        ClueContext({"x": PAGES[0]}, search=object())


def test_second_reader_ranks_by_the_engine_not_by_word_sets(tmp_path: Path) -> None:
    """The IDF fit counts a word once; the engine's BM25 counts how often and on how short a page. A clue that
    passes the IDF margin (the rare "ropewalk" is only on the target's long page) is still read as the short
    neighbour that repeats its other words: ``reader_not_first``, not ``hop_ambiguous``."""
    target = Document(doc_id="t", title="Tarn", text="Tarn is a town. " + "It has a long history of trade. " * 30
                      + "Its glassblowers and saltworks, a ropewalk and a tannery are known.")
    other = Document(doc_id="o", title="Oster", text="Oster glassblowers glassblowers glassblowers saltworks saltworks.")
    prev = Document(doc_id="s", title="Start", text="Start names Tarn and Oster.")
    store, search, g = _world(tmp_path, [target, other, prev, *PAGES], [("s", "t"), ("s", "o")])
    ctx = ClueContext(store, g, search)
    cands = ctx.candidates(Hop(entity_id="s", title="Start", doc_id="s"), Hop(entity_id="t", title="Tarn", doc_id="t"))
    misread = "its glassblowers and saltworks and a ropewalk"
    assert ctx.margin(misread, "t", cands)[0] >= 0.35
    assert ctx.reader_rank(misread, "t", cands)[0::2] == (2, "Oster")
    read = "a ropewalk and a tannery"
    rank, rm, _ = ctx.reader_rank(read, "t", cands)
    assert rank == 1 and rm >= ctx.cfg.reader_margin and ctx.reader_ok(read, "t", cands)
    chain = Chain(chain_id="r", seed=0, hops=[Hop(entity_id="s", title="Start", doc_id="s"),
                                              Hop(entity_id="t", title="Tarn", doc_id="t", relation="mentions")])
    for clue, want in ((misread, ["reader_not_first"]), (read, [])):
        d = Draft(question=f'If you start from the place described as "names two towns", then go to a town its '
                  f'page mentions, the one described as "{clue}", which town do you reach?', answer="Tarn",
                  gold_entities=["Start", "Tarn"], hop_clues=["names two towns", clue])
        fails = chain_checks(d, chain, ctx, ValidationConfig(shortcut="keep")).fails
        assert [r for r, _ in fails if r in ("reader_not_first", "hop_ambiguous") and "hop 1" in _] == want


def test_at_most_max_per_answer_questions_end_at_one_entity(tmp_path: Path) -> None:
    a = Document(doc_id="a", title="Orlanda", text="Orlanda is a harbour city founded by salt traders. Orlanda is "
                 "known for glass workshops and a lighthouse built of basalt.")
    b = Document(doc_id="b", title="Tessaly", text="Tessaly is a mountain town whose monks brew a bitter cherry "
                 "liqueur. Tessaly holds a winter horse fair every January.")
    c = Document(doc_id="c", title="Varn", text="Varn is a lowland town famous for tulip auctions and windmills. "
                 "Varn hosts a spring cheese market on its cobbled square.")
    e = Document(doc_id="e", title="Quillon", text="Quillon is an island republic whose parliament meets in a "
                 "lighthouse. Its flag shows a blue heron over three waves.")
    store, search, g = _world(tmp_path, [a, b, c, e, *PAGES], [("a", "b"), ("c", "b"), ("e", "b"), ("a", "c")])
    ctx = ClueContext(store, g, search)

    def h(d: Document, rel: str | None = None) -> Hop:
        return Hop(entity_id=d.doc_id, title=d.title, doc_id=d.doc_id, relation=rel)

    chains = [Chain(chain_id=f"k{i}", seed=0, hops=[h(s), h(b, "mentions")]) for i, s in enumerate((a, c, e))]
    out, rej = tmp_path / "q.jsonl", tmp_path / "r.jsonl"
    st = asyncio.run(write_questions(chains, store, TemplateQuestionWriter(ctx), out, rej, progress=False, clues=ctx,
                                     validation=ValidationConfig(shortcut="keep", max_per_answer=2)))
    kept = read_records(out, Question)
    rejected = {r.item_id: r.reason for r in read_records(rej, Rejection)}
    assert [q.chain_id for q in kept] == ["k0", "k1"] and rejected == {"k2": "answer_repeated"}
    assert st.accepted == 2 and st.reasons == {"answer_repeated": 1}


def test_local_index_and_serve_search_write_the_same_bytes(tmp_path: Path) -> None:
    """One config, two ways to reach the corpus: the index read from its path, and a real ``serve-search``
    (statistics then computed once from the DocStore and stored beside it): byte-identical questions."""
    import subprocess
    import sys

    from longtracerl.corpus.remote import RemoteSearch
    from longtracerl.corpus.stats import StoredTermStats
    from longtracerl.netutil import free_port, wait_http

    docs = [Document(doc_id="a", title="Orlanda", text="Orlanda is a harbour city founded by salt traders in 1204. "
                     "Orlanda is known for its glass workshops and a lighthouse built of basalt."),
            Document(doc_id="b", title="Tessaly", text="Tessaly is a mountain town whose monks brew a bitter cherry "
                     "liqueur. Tessaly holds a winter horse fair every January."),
            Document(doc_id="c", title="Varn", text="Varn is a lowland town famous for tulip auctions and windmills. "
                     "Varn hosts a spring cheese market on its cobbled square with 1,250 stalls.")]
    store, search, g = _world(tmp_path, [*docs, *PAGES], [("a", "b"), ("a", "c"), ("b", "c"), ("c", "b")])

    def h(i: int, rel: str | None = None) -> Hop:
        return Hop(entity_id=docs[i].doc_id, title=docs[i].title, doc_id=docs[i].doc_id, relation=rel)

    chains = [Chain(chain_id="x1", seed=0, hops=[h(0), h(1, "mentions"), h(2, "mentions")]),
              Chain(chain_id="x2", seed=0, hops=[h(0), h(2, "mentions"), h(1, "mentions")])]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "longtracerl.cli", "serve-search", "--corpus", str(tmp_path / "docs"),
                             "--index", str(tmp_path / "index"), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=60, proc=proc)
        remote = RemoteSearch(f"http://127.0.0.1:{port}")
        outs = []
        for tag, backend in (("local", search), ("remote", remote)):
            ctx = ClueContext(store, g, backend)
            assert isinstance(ctx.stats, StoredTermStats) == (tag == "remote")
            out, rej = tmp_path / f"{tag}.jsonl", tmp_path / f"{tag}.rej.jsonl"
            asyncio.run(write_questions(chains, store, TemplateQuestionWriter(ctx), out, rej, progress=False,
                                        clues=ctx, validation=ValidationConfig(shortcut="keep")))
            outs.append((out.read_bytes(), rej.read_bytes() if rej.exists() else b""))
        remote.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert outs[0] == outs[1] and outs[0][0].count(b"\n") >= 1
    assert list((tmp_path / "docs").glob("term_stats.english.sqlite"))  # stored beside the world, for next time
    assert isinstance(stats_for(None, store), StoredTermStats)  # reopened from beside the DocStore


def test_cap_repeats_bounds_answers_and_hubs_in_chain_order(tmp_path: Path) -> None:
    """Hand-made question rows: the third through hub ``h`` (max_per_hub=2) and the second ending at ``z``
    (max_per_answer=1) are dropped by name; a dropped row does not use up a hub's quota; rerun changes nothing."""
    from longtracerl.io import write_records
    from longtracerl.synth.questions.runner import cap_repeats

    rows = [{"chain_id": "c1", "gold_doc_ids": ["s1", "h", "a1"]},
            {"chain_id": "c2", "gold_doc_ids": ["s2", "h", "a2"]},
            {"chain_id": "c3", "gold_doc_ids": ["s3", "h", "a3"]},  # third through h
            {"chain_id": "c4", "gold_doc_ids": ["s4", "m", "z"]},
            {"chain_id": "c5", "gold_doc_ids": ["s5", "n", "z"]},  # second ending at z
            {"chain_id": "c6", "gold_doc_ids": ["s6", "n", "a6"]},  # n's quota was not used by c5
            # two countries with one government type: the answer as written repeats, though the entity does not
            {"chain_id": "c7", "gold_doc_ids": ["s7", "p", "a7"], "answer": "Presidential republic"},
            {"chain_id": "c8", "gold_doc_ids": ["s8", "q", "a8"], "answer": "presidential  republic"}]
    out, rej = tmp_path / "q.jsonl", tmp_path / "r.jsonl"
    write_records(out, rows)
    assert cap_repeats(out, rej, max_per_answer=1, max_per_hub=2) == 3
    assert [json.loads(x)["chain_id"] for x in out.read_text().splitlines()] == ["c1", "c2", "c4", "c6", "c7"]
    got = {r.item_id: (r.reason, r.detail) for r in read_records(rej, Rejection)}
    assert {k: v[0] for k, v in got.items()} == {"c3": "hub_repeated", "c5": "answer_repeated",
                                                 "c8": "answer_repeated"}
    assert "'presidential republic'" in got["c8"][1] and "'z'" in got["c5"][1]
    assert cap_repeats(out, rej, max_per_answer=1, max_per_hub=2) == 0
    assert cap_repeats(out, rej, max_per_answer=0, max_per_hub=0) == 0
