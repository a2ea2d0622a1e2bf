"""Hop clues and the chain validators on hand-made worlds (real DocStore, real tantivy index, real graph):
an ambiguous hop, a shortcut, jumps (restart and cut), entities that share a name, a page with no usable
clue sentence, an off-chain question; and the non-oracle solver needing the clues."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from longtracerl.corpus.docstore import DocStore, build_docstore
from longtracerl.corpus.search import TantivySearch, build_index
from longtracerl.graph.build import GraphBuilder
from longtracerl.records import Chain, Document, Hop, Question, Rejection, WriterInfo
from longtracerl.synth.agent import ClueSolver, parse_question
from longtracerl.synth.questions import Draft, TemplateQuestionWriter, ValidationConfig, write_one
from longtracerl.synth.questions.checks import chain_checks, check_hops, check_on_chain, check_shortcut
from longtracerl.synth.questions.clues import ClueConfig, ClueContext

FILLER = [
    Document(doc_id=f"f{i}", title=f"Filler {i}", text=f"Filler {i} is a village with a market, a river and "
             f"{i} farms that grow barley and rye near the old mill.") for i in range(30)
]


@dataclass
class World:
    ctx: ClueContext
    store: Any
    search: Any
    graph: Any


def make_world(tmp: Path, docs: list[Document], edges: list[tuple[str, str, str]]) -> World:
    all_docs = [*docs, *FILLER]
    build_docstore(tmp / "docs", all_docs)
    store = DocStore.open(tmp / "docs")
    build_index(tmp / "index", store, progress=False)
    search = TantivySearch.load(tmp / "index", store)
    b = GraphBuilder()
    nodes = {d.doc_id: b.entity(d.doc_id, d.title, d.doc_id) for d in all_docs}
    for src, dst, rel in edges:
        b.add_edge(nodes[src], nodes[dst], rel)
    g = b.build(tmp / "graph")
    return World(ClueContext(store, g, search, ClueConfig()), store, search, g)


def hop(d: Document, rel: str | None = None, jumped: bool = False) -> Hop:
    return Hop(entity_id=d.doc_id, title=d.title, doc_id=d.doc_id, relation=rel, jumped=jumped)


def run(chain: Chain, w: World, writer: Any = None, cfg: ValidationConfig | None = None) -> Question | Rejection:
    writer = writer or TemplateQuestionWriter(w.ctx)
    # tiny worlds: any clue finds its page, so shortcuts are kept (and counted) here; tested on their own below
    res, _, _ = asyncio.run(write_one(chain, w.store, writer, cfg or ValidationConfig(shortcut="keep"), clues=w.ctx))
    return res


A = Document(doc_id="a", title="Orlanda", text="Orlanda is a harbour city founded by salt traders in 1204. "
             "Orlanda is known for its glass workshops and a lighthouse built of basalt. "
             "Rivers from Orlanda lead to Tessaly and to Varn.")
B = Document(doc_id="b", title="Tessaly", text="Tessaly is a mountain town whose monks brew a bitter cherry liqueur. "
             "Tessaly holds a winter horse fair every January.")
C = Document(doc_id="c", title="Varn", text="Varn is a lowland town famous for tulip auctions and windmills. "
             "Varn hosts a spring cheese market on its cobbled square.")
B_TWIN = Document(doc_id="b", title="Tessaly", text="Tessaly is a lowland town famous for tulip auctions and windmills. "
                  "Tessaly hosts a spring cheese market on its cobbled square.")


def test_clue_pins_the_hop_among_neighbours(tmp_path: Path) -> None:
    w = make_world(tmp_path, [A, B, C], [("a", "b", "mentions"), ("a", "c", "mentions")])
    chain = Chain(chain_id="c1", seed=0, hops=[hop(A), hop(B, "mentions")])
    q = run(chain, w)
    assert isinstance(q, Question), q
    assert len(q.hop_clues) == 2 and all(q.hop_clues) and "Tessaly" not in q.question
    # the hop's clue comes from Tessaly's page and fits Varn's page clearly less
    assert "hop_unique" in q.validation["passed"] and q.validation["hop_margins"][1] >= 0.35
    assert q.hop_clues[1] in q.question and ("cherry" in q.hop_clues[1] or "horse" in q.hop_clues[1])


def test_ambiguous_hop_is_rejected(tmp_path: Path) -> None:
    # Tessaly and Varn have the same description: nothing on Tessaly's page tells it apart from Varn
    w = make_world(tmp_path, [A, B_TWIN, C], [("a", "b", "mentions"), ("a", "c", "mentions")])
    chain = Chain(chain_id="c1", seed=0, hops=[hop(A), hop(B_TWIN, "mentions")])
    res = run(chain, w)
    assert isinstance(res, Rejection) and res.reason == "hop_ambiguous" and "Varn" in res.detail
    # the validator says the same of any writer's clue, e.g. an LLM's
    d = Draft(question='Start with the harbour city of glass workshops. Go to the lowland town with tulip auctions.',
              answer="Tessaly", gold_entities=["Orlanda", "Tessaly"],
              hop_clues=["harbour city founded by salt traders", "lowland town famous for tulip auctions"])
    fails = check_hops(d, chain, w.ctx, ValidationConfig()).fails
    # both readers see it: the IDF margin and the engine's own scorer over the neighbours
    assert [r for r, _ in fails] == ["hop_ambiguous", "reader_not_first"] and "hop 1" in fails[0][1]
    d.hop_clues = ["harbour city founded by salt traders", ""]
    assert "no clue" in check_hops(d, chain, w.ctx, ValidationConfig()).fails[0][1]


def test_shortcut_rejects_or_is_counted(tmp_path: Path) -> None:
    w = make_world(tmp_path, [A, B, C], [("a", "b", "mentions"), ("a", "c", "mentions")])
    chain = Chain(chain_id="c1", seed=0, hops=[hop(A), hop(B, "mentions")])
    d = Draft(question="Which town's monks brew a bitter cherry liqueur and hold a winter horse fair in January?",
              answer="Tessaly", gold_entities=["Orlanda", "Tessaly"],
              hop_clues=["harbour city founded by salt traders in 1204", "monks brew a bitter cherry liqueur"])
    rep = check_shortcut(d, chain, w.ctx)
    assert [r for r, _ in rep.fails] == ["shortcut"] and rep.details["shortcut"] == ["question", "last_clue"]
    assert [r for r, _ in chain_checks(d, chain, w.ctx, ValidationConfig()).fails].count("shortcut") == 1
    keep = chain_checks(d, chain, w.ctx, ValidationConfig(shortcut="keep"))
    assert "shortcut" not in [r for r, _ in keep.fails] and keep.details["shortcut"]
    far = Draft(question="Start at a harbour city of glass and basalt. Which place does it name next?",
                answer="Tessaly", gold_entities=["Orlanda", "Tessaly"], hop_clues=["glass workshops", "a town near a river and a market"])
    assert check_shortcut(far, chain, w.ctx).fails == []


def test_off_chain_question_is_rejected() -> None:
    chain = Chain(chain_id="c1", seed=0, hops=[hop(A), hop(B, "shares a border with"), hop(C, "largest export partner")])
    junk = Draft(question="How can I create a JSON object that contains all the gold entities from the path?",
                 answer="Varn", gold_entities=["Orlanda", "Tessaly", "Varn"])
    rep = check_on_chain(junk, chain, ValidationConfig())
    assert [r for r, _ in rep.fails] == ["off_chain"]
    good = Draft(question="Start with a harbour city. Take the town it shares a border with, then that town's largest "
                 "export partner. Name it.", answer="Varn", gold_entities=["Orlanda", "Tessaly", "Varn"])
    assert check_on_chain(good, chain, ValidationConfig()).fails == []


def test_jump_restarts_with_a_unique_entity_or_cuts(tmp_path: Path) -> None:
    D = Document(doc_id="d", title="Quillon", text="Quillon is an island republic whose parliament meets in a "
                 "lighthouse. Its flag shows a blue heron over three waves.")
    E = Document(doc_id="e", title="Marrow Bay", text="Marrow Bay is a fishing port on Quillon with oyster beds. "
                 "Marrow Bay exports smoked eel to distant markets.")
    # another fishing port, linked to nothing: the type words "fishing port" do not find Marrow Bay by themselves
    F = Document(doc_id="f", title="Lindholm", text="Lindholm is a fishing port on a northern fjord with herring "
                 "smokehouses.")
    w = make_world(tmp_path, [A, B, C, D, E, F], [("a", "b", "mentions"), ("a", "c", "mentions"),
                                                 ("d", "e", "mentions")])
    chain = Chain(chain_id="c9", seed=0, hops=[hop(A), hop(B, "mentions"), hop(D, None, jumped=True),
                                               hop(E, "mentions")])
    q = run(chain, w)
    assert isinstance(q, Question), q
    assert "start again" in q.question and q.validation["jump_mode"] == "restart"
    assert all(q.hop_clues[:3]) and q.gold_doc_ids == ["a", "b", "d", "e"]
    # the last clue finds its page in one search in this tiny world, so the type words pin the last hop
    # (Marrow Bay is the only page Quillon's names)
    assert q.hop_clues[3] == "" and q.validation["clue_kinds"][3] == "type"
    assert "the fishing port its page mentions" in q.question
    # the jumped entity is found by its clue alone, at rank 1 in the corpus: a real restart, not a link
    assert w.search.search(q.hop_clues[2].replace("this entity", ""), 1)[0].doc_id == "d"
    steps, _ = parse_question(q.question)
    assert [s.kind for s in steps] == ["start", "move", "restart", "move"]
    cut = run(chain, w, TemplateQuestionWriter(w.ctx, jump_mode="cut", min_cut_hops=1))
    assert isinstance(cut, Question) and "start again" not in cut.question
    assert cut.gold_doc_ids == ["a", "b"] and cut.hop_clues[2:] == ["", ""] and cut.validation["hops_used"] == [0, 1]
    short = run(chain, w, TemplateQuestionWriter(w.ctx, jump_mode="cut", min_cut_hops=2))
    assert isinstance(short, Rejection) and short.reason == "jump_cut_too_short"


def test_entities_sharing_a_name_never_leak(tmp_path: Path) -> None:
    G1 = Document(doc_id="g1", title="Georgia (country)", text="Georgia is a country in the Caucasus whose "
                  "capital Tbilisi lies on the Kura river. Georgia has an ancient alphabet of its own.")
    G2 = Document(doc_id="g2", title="Georgia (U.S. state)", text="Georgia is a state in the American South whose "
                  "capital Atlanta hosted the 1996 Olympic Games. Georgia grows many peaches and pecans.")
    # two more states, linked to nothing: "state" alone does not find Georgia (U.S. state) (type words that do
    # would let a reader skip the hops before; they fall back to "entity", see the type-words test)
    more = [Document(doc_id=f"st{i}", title=f"{t} (U.S. state)", text=f"{t} is a state in the American {r}.")
            for i, (t, r) in enumerate([("Vermont", "Northeast"), ("Ohio", "Midwest")])]
    w = make_world(tmp_path, [G1, G2, *more], [("g1", "g2", "shares a name with")])
    chain = Chain(chain_id="cg", seed=0, hops=[hop(G1), hop(G2, "shares a name with")])
    q = run(chain, w)
    assert isinstance(q, Question), q
    # the masked name reads "it" in the question; each entity is named by its page's type words
    assert "Georgia" not in q.question and '"It is a country in the Caucasus' in q.question
    assert q.validation["type_words"] == ["country", "state"] and "which state do you reach" in q.question
    # pinned by a clue of its own page, or (its only neighbour through that relation) by the relation alone
    pinned_by_relation = q.validation["clue_kinds"][1] == "relation" and q.hop_clues[1] == ""
    assert pinned_by_relation or "Atlanta" in q.hop_clues[1] or "peaches" in q.hop_clues[1]
    assert "Georgia" not in " ".join(q.hop_clues)


def test_page_without_usable_clue_is_a_named_rejection(tmp_path: Path) -> None:
    bare = Document(doc_id="b", title="Tessaly", text="Tessaly.\nTessaly, Tessaly.")
    w = make_world(tmp_path, [A, bare, C], [("a", "b", "mentions"), ("a", "c", "mentions")])
    res = run(Chain(chain_id="c1", seed=0, hops=[hop(A), hop(bare, "mentions")]), w)
    assert isinstance(res, Rejection) and res.reason == "no_clue_sentence" and "Tessaly" in res.detail


def _strip_hop_clues(q: Question) -> Question:
    """The question with every clue after the seed's emptied (the relation phrases stay)."""
    import re

    n = [0]

    def rep(m: re.Match[str]) -> str:
        n[0] += 1
        return m.group(0) if n[0] == 1 else m.group(1) + '""'

    leads = r'((?:says|described thus|described as|of which we read|whose page says):?\s*)"[^"]*"'
    return q.model_copy(update={"question": re.sub(leads, rep, q.question)})


def test_solver_needs_the_hop_clues_on_the_sample_world() -> None:
    """The non-oracle solver solves the sample world's kept questions, and mostly fails once hop clues are gone."""
    from longtracerl.corpus.sample_world import ensure_sample_world
    from longtracerl.graph.sample import load_sample_graph
    from longtracerl.graph.walk import WalkConfig, walk
    from longtracerl.reward import get_outcome_scorer
    from longtracerl.synth.agent.collect import score_trajectory

    sw = ensure_sample_world(progress=False)
    store = DocStore.open(sw.docstore_dir)
    search = TantivySearch.load(sw.index_dir, store)
    g = load_sample_graph()
    ctx = ClueContext(store, g, search)
    writer = TemplateQuestionWriter(ctx)
    chains = walk(g, WalkConfig(n_walks=14, seed=5, min_hops=3, max_hops=3)).chains
    qs = [q for c in chains
          if isinstance(q := run(c, World(ctx, store, search, g), writer, ValidationConfig()), Question)]
    assert len(qs) >= 6
    solver, scorer = ClueSolver(search), get_outcome_scorer("contains")

    def solved(q: Question, with_clues: bool, attempts: int = 3) -> bool:
        for a in range(1, attempts + 1):
            t = asyncio.run(score_trajectory(asyncio.run(solver.solve(q, a)), q, scorer))
            if t.correct:
                if with_clues:  # it read the answer on the last page (without clues a shared value can be hit)
                    assert t.cited_doc_ids[0] == q.gold_doc_ids[0] and t.cited_doc_ids[-1] == q.gold_doc_ids[-1]
                return True
        return False

    with_clues = sum(solved(q, True) for q in qs) / len(qs)
    without = sum(solved(_strip_hop_clues(q), False) for q in qs) / len(qs)
    assert with_clues >= 0.8 and without <= with_clues / 2, (with_clues, without)


@pytest.mark.parametrize("mode", ["restart", "cut"])
def test_jump_mode_reaches_the_writer_through_the_stage(mode: str, tmp_path: Path) -> None:
    """``questions.jump_mode`` set in the config is what the questions stage's writer does with a jump."""
    from longtracerl.config import BuildConfig
    from longtracerl.pipeline.context import RunContext
    from longtracerl.pipeline.stages import QuestionStage

    cfg = BuildConfig.load(overrides=[f"questions.jump_mode={mode}", "questions.shortcut=keep",
                                      f"out={tmp_path / 'runs'}"])
    with pytest.raises(ValueError):
        BuildConfig.load(overrides=["questions.jump_mode=teleport"])
    with pytest.raises(ValueError):
        ClueConfig(bogus=1)  # type: ignore[call-arg]
    D = Document(doc_id="d", title="Quillon", text="Quillon is an island republic whose parliament meets in a "
                 "lighthouse. Its flag shows a blue heron over three waves.")
    E = Document(doc_id="e", title="Marrow Bay", text="Marrow Bay is a fishing port on Quillon with oyster beds. "
                 "Marrow Bay exports smoked eel to distant markets.")
    w = make_world(tmp_path, [A, B, C, D, E], [("a", "b", "mentions"), ("a", "c", "mentions"),
                                              ("b", "c", "mentions"), ("d", "e", "mentions")])
    writer = QuestionStage().writer(RunContext(cfg, progress=False), w.ctx)
    chain = Chain(chain_id="c9", seed=0, hops=[hop(A), hop(B, "mentions"), hop(C, "mentions"),
                                               hop(D, None, jumped=True), hop(E, "mentions")])
    q = run(chain, w, writer)
    assert isinstance(q, Question), q
    assert q.validation["jump_mode"] == mode
    if mode == "restart":
        assert "start again" in q.question and q.gold_doc_ids == ["a", "b", "c", "d", "e"]
    else:  # the stage's default min_cut_hops (2) keeps the longest jump-free part, A -> B -> C
        assert "start again" not in q.question and q.validation["hops_used"] == [0, 1, 2]


FILM = Document(doc_id="fm", title="Harbour Lights", text="Harbour Lights is a drama film directed by Mara Voss "
                "about dock workers who strike for a safer port. Mara Voss wrote it with Ilan Roe.")
VOSS = Document(doc_id="mv", title="Mara Voss", text="Mara Voss is a film director and former stage actress "
                "who trained at a conservatory of drama.")
ROE = Document(doc_id="ir", title="Ilan Roe", text="Ilan Roe is a novelist and screenwriter whose novels follow "
               "fishermen along a cold northern coast.")


def test_a_functional_relation_pins_a_hop_without_a_clue(tmp_path: Path) -> None:
    """"Go to its director": the film's only neighbour through "director" needs no clue; a clue-less "mentions"
    hop (two pages the film names) is not pinned and is rejected as ambiguous."""
    w = make_world(tmp_path, [FILM, VOSS, ROE], [("fm", "mv", "director"), ("fm", "mv", "mentions"),
                                                 ("fm", "ir", "mentions")])
    by_relation = Chain(chain_id="r1", seed=0, hops=[hop(FILM), hop(VOSS, "director")])
    by_mention = Chain(chain_id="r2", seed=0, hops=[hop(FILM), hop(VOSS, "mentions")])
    assert w.ctx.relation_pins(by_relation.hops[0], by_relation.hops[1])
    assert not w.ctx.relation_pins(by_mention.hops[0], by_mention.hops[1])
    draft = Draft(question="Start with the entity described thus: \"a drama film about dock workers who strike\". "
                  "Next, go to its director. Which entity is the last one reached? Give its name.",
                  answer="Mara Voss", gold_entities=["Harbour Lights", "Mara Voss"],
                  hop_clues=["a drama film about dock workers who strike", ""])
    assert not [f for f in check_hops(draft, by_relation, w.ctx, ValidationConfig()).fails if f[1].startswith("hop 1")]
    fails = check_hops(draft, by_mention, w.ctx, ValidationConfig()).fails
    assert any(r == "hop_ambiguous" and "hop 1" in d and "not pinned" in d for r, d in fails)


def test_solver_follows_a_relation_step_from_the_page_it_stands_on(tmp_path: Path) -> None:
    """A clue-less step is resolved from the line of the current page that names the relation ("directed by")."""
    from longtracerl.reward import get_outcome_scorer
    from longtracerl.synth.agent.collect import score_trajectory
    from longtracerl.synth.agent.solver import relation_evidence

    w = make_world(tmp_path, [FILM, VOSS, ROE], [("fm", "mv", "director"), ("fm", "ir", "mentions")])
    steps, ask = parse_question("Start with the entity described thus: \"a drama film about dock workers who "
                                "strike for a safer port\". Next, go to its director. Which entity is the last one "
                                "reached? Give its name.")
    assert [(s.kind, s.relation, bool(s.clue)) for s in steps] == [("start", "", True), ("move", "its director", False)]
    assert ask.startswith("Which entity")
    assert relation_evidence("its director", FILM.text, "Mara Voss", VOSS.text, FILM.title) > \
        relation_evidence("its director", FILM.text, "Ilan Roe", ROE.text, FILM.title)
    q = Question(question_id="q", chain_id="r1", question=" ".join(["Start with the entity described thus:",
                 "\"a drama film about dock workers who strike for a safer port\". Next, go to its director.",
                 "Which entity is the last one reached? Give its name."]), answer="Mara Voss",
                 gold_entities=["Harbour Lights", "Mara Voss"], gold_doc_ids=["fm", "mv"],
                 writer=WriterInfo(backend="template"))
    t = asyncio.run(score_trajectory(asyncio.run(ClueSolver(w.search).solve(q, 1)), q, get_outcome_scorer("contains")))
    assert t.correct and t.cited_doc_ids == ["fm", "mv"]


def test_chains_with_the_same_tail_are_one_question(tmp_path: Path) -> None:
    """Walks that converge on a hub give the same last entities: only the first chain is written."""
    from longtracerl.io import read_records
    from longtracerl.synth.questions import write_questions

    w = make_world(tmp_path, [A, B, C, FILM], [("a", "b", "mentions"), ("a", "c", "mentions"), ("fm", "a", "mentions")])
    c1 = Chain(chain_id="t1", seed=0, hops=[hop(A), hop(B, "mentions")])
    c2 = Chain(chain_id="t2", seed=0, hops=[hop(FILM), hop(A, "mentions"), hop(B, "mentions")])
    c3 = Chain(chain_id="t3", seed=0, hops=[hop(C), hop(A, "mentions"), hop(B, "mentions")])
    out, rej = tmp_path / "q.jsonl", tmp_path / "r.jsonl"
    asyncio.run(write_questions([c1, c2, c3], w.store, TemplateQuestionWriter(w.ctx), out, rej, progress=False,
                                validation=ValidationConfig(shortcut="keep", same_tail_hops=2), clues=w.ctx))
    rejected = {r.item_id: r for r in read_records(rej, Rejection)}
    assert rejected["t3"].reason == "repeated_tail" and "t2" in rejected["t3"].detail
    assert "t2" not in rejected or rejected["t2"].reason != "repeated_tail"
    assert "t1" not in rejected or rejected["t1"].reason != "repeated_tail"  # 2 entities: no tail of 2 to repeat



TIDE = Document(doc_id="tl", title="Tide Lines", text="Tide Lines is a drama film directed by Mara Vell about net "
                "menders on a grey coast. Mara Vell wrote it with Ilan Ross.")
VELL = Document(doc_id="mv", title="Mara Vell", text="Mara Vell is a film director who trained at a conservatory "
                "of drama and staged operas in barns.")
ROSS = Document(doc_id="ir", title="Ilan Ross", text="Ilan Ross is a screenwriter whose scripts follow fishermen "
                "along a cold northern coast.")
KAI = Document(doc_id="kl", title="Kai Lund", text="Kai Lund is a film director known for slow coastal westerns.")
NOTE = Document(doc_id="nt", title="Port strike", text="Port strike: dock workers stopped work for nine days.")


def test_type_words_pin_a_hop_no_other_neighbour_shares(tmp_path: Path) -> None:
    """"The film director its page mentions": the film names one director and a screenwriter, so the type words
    pin the hop with no clue; a second director, or a neighbour whose page does not say what it is, unpins it."""
    from longtracerl.reward import get_outcome_scorer
    from longtracerl.synth.agent.collect import score_trajectory
    from longtracerl.synth.agent.solver import type_evidence

    w = make_world(tmp_path, [TIDE, VELL, ROSS, KAI, NOTE],
                   [("tl", "mv", "mentions"), ("tl", "ir", "mentions"), ("ir", "mv", "mentions"),
                    ("ir", "kl", "mentions"), ("kl", "mv", "mentions"), ("kl", "nt", "mentions")])
    film, vell = hop(TIDE), hop(VELL, "mentions")
    assert w.ctx.type_of("mv") == "film director" and w.ctx.type_of("ir") == "screenwriter"
    assert w.ctx.type_pins(film, vell) == "film director"
    assert w.ctx.type_pins(hop(ROSS), vell) is None  # Ilan Ross's page names two film directors
    assert w.ctx.type_pins(hop(KAI), vell) is None  # and Kai Lund's a page that does not say what it is
    chain = Chain(chain_id="t1", seed=0, hops=[film, vell])
    q = run(chain, w)
    assert isinstance(q, Question), q
    assert q.validation["clue_kinds"] == ["unique", "type"] and q.hop_clues[1] == ""
    assert "the film director its page mentions" in q.question
    # the check reads the pages again: without the type words in the question the hop is not pinned
    bare = Draft(question=q.question.replace("the film director its page mentions", "an entity its page mentions"),
                 answer=q.answer, gold_entities=q.gold_entities, hop_clues=q.hop_clues)
    assert any(r == "hop_ambiguous" and "hop 1" in d for r, d in check_hops(bare, chain, w.ctx, ValidationConfig()).fails)
    assert not check_hops(Draft(question=q.question, answer=q.answer, gold_entities=q.gold_entities,
                                hop_clues=q.hop_clues), chain, w.ctx, ValidationConfig()).fails
    # a reader checks such a step by the candidate's first sentence; the non-oracle solver does, and gets there
    assert type_evidence("the film director its page mentions", VELL.text) > type_evidence(
        "the film director its page mentions", ROSS.text)
    t = asyncio.run(score_trajectory(asyncio.run(ClueSolver(w.search).solve(q, 1)), q, get_outcome_scorer("contains")))
    assert t.correct and t.cited_doc_ids[-1] == "mv"


def test_type_words_that_find_their_page_alone_fall_back(tmp_path: Path) -> None:
    """In a world with one state, "which state do you reach" would give the answer away without the hops: the
    type words fall back to their head noun, then to "entity"; with other states around they stay."""
    from longtracerl.synth.questions.template import distinctive_type

    g1 = Document(doc_id="g1", title="Georgia (country)", text="Georgia is a country in the Caucasus whose "
                  "capital Tbilisi lies on the Kura river. Georgia has an ancient alphabet of its own.")
    g2 = Document(doc_id="g2", title="Georgia (U.S. state)", text="Georgia is a southern state whose capital "
                  "Atlanta hosted the 1996 Olympic Games. Georgia grows many peaches and pecans.")
    w = make_world(tmp_path / "one", [g1, g2], [("g1", "g2", "shares a name with")])
    assert w.ctx.type_of("g2") == "southern state"
    assert distinctive_type(w.ctx, "southern state", "g2") == "entity"  # "southern state" and "state" find it
    q = run(Chain(chain_id="cg", seed=0, hops=[hop(g1), hop(g2, "shares a name with")]), w)
    assert isinstance(q, Question) and q.validation["type_words"] == ["country", "entity"]
    assert "which entity do you reach" in q.question
    others = [Document(doc_id=f"st{i}", title=f"{t} (U.S. state)", text=f"{t} is a state in the American {r}.")
              for i, (t, r) in enumerate([("Vermont", "Northeast"), ("Ohio", "Midwest")])]
    w2 = make_world(tmp_path / "many", [g1, g2, *others], [("g1", "g2", "shares a name with")])
    assert distinctive_type(w2.ctx, "southern state", "g2") == "state"  # the head noun no longer finds it first


def test_type_words_shown_rule_out_neighbours_of_another_kind(tmp_path: Path) -> None:
    """"an American film director its page mentions": a reader compares the clue only with the neighbours that
    may be one (same head noun, or a page that does not say what it is); the checker does the same, and only
    for type words the question shows."""
    from longtracerl.synth.questions.checks import shown_kind

    w = make_world(tmp_path, [TIDE, VELL, ROSS, KAI, NOTE],
                   [("tl", "mv", "mentions"), ("tl", "ir", "mentions"), ("ir", "mv", "mentions"),
                    ("ir", "kl", "mentions"), ("kl", "mv", "mentions"), ("kl", "nt", "mentions")])
    ids = lambda c: [d for d, _ in c]  # noqa: E731
    assert ids(w.ctx.candidates(hop(TIDE), hop(VELL))) == ["ir", "mv"]
    assert ids(w.ctx.candidates(hop(TIDE), hop(VELL), "film director")) == ["mv"]  # the screenwriter is out
    assert ids(w.ctx.candidates(hop(ROSS), hop(VELL), "film director")) == ["kl", "mv"]  # both directors stay
    assert ids(w.ctx.candidates(hop(KAI), hop(VELL), "film director")) == ["mv", "nt"]  # an untyped page stays
    d = Draft(question='If you start from the screenwriter described as "x", and then go on to a film director its '
              'page mentions, the one described as "y", which film director do you reach? Give its name.',
              answer="Mara Vell", gold_entities=["Ilan Ross", "Mara Vell"], hop_clues=["x", "y"],
              info={"type_words": ["screenwriter", "film director"]})
    assert shown_kind(d, 1) == "film director" and shown_kind(d, 0) == "screenwriter"
    d2 = Draft(question=d.question.replace("a film director its page mentions", "its director"), answer=d.answer,
               gold_entities=d.gold_entities, hop_clues=d.hop_clues, info=d.info)
    assert shown_kind(d2, 1) is None  # "which film director do you reach" is the ask, not the step
