"""Mention edges link names, not words: each rule of graph.mentions on hand-made pages, and walks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from longtracerl.graph.build import GraphBuilder
from longtracerl.graph.mentions import (
    COMMON_MENTION_RELATION,
    MentionConfig,
    in_longer_name,
    is_concept_page,
)
from longtracerl.graph.stats import mention_stats
from longtracerl.graph.store import Graph
from longtracerl.graph.walk import WalkConfig, walk
from longtracerl.records import Document


def out_edges(g: Graph, title: str) -> set[tuple[str, str | None]]:
    u = g.node_by_title(title)
    assert u is not None, title
    return {(g.titles[int(v)], g.relation_name(int(r))) for v, r in
            zip(g.neighbors(u), g.neighbor_relations(u), strict=True)}


# Pages written the way an encyclopedia writes them: concept articles ("Second", "City", "Republic",
# "Galaxy") use their title as an ordinary lower-case word; names ("Paris", "Nile") are always capitalised.
PAGES = [
    ("France", "France is a country in Europe. Its capital is Paris, the largest city of the country. "
               "During the Second World War, Paris was occupied. France is a republic."),
    ("Paris", "Paris is the capital of France. The city lies on the Seine. Paris has a long history, and "
              "every second visitor comes in summer."),
    ("Nile", "The Nile is a river in Africa. The Nile flows north into the Mediterranean."),
    ("Egypt", "Egypt, officially the Arab Republic of Egypt, is a country. The Nile River crosses it. "
              "Cairo is a city on the Nile. Egypt is a republic; the word Republic is in its name."),
    ("Amazon", "The Amazon drains much of South America, and the Amazon basin is vast."),
    ("Brazil", "Brazil holds most of the Amazon River basin. Its largest city is Sao Paulo. Second, it is "
               "big. Brazil is a federal republic."),
    ("Second", "The second is the base unit of time. A second is defined by the caesium clock; "
               "there are sixty seconds in a minute, and a second is short."),
    ("City", "A city is a large human settlement. A city is often contrasted with a town. City life is busy "
             "and a city has many people."),
    ("Republic", "A republic is a form of government. In a republic, power is held by the people. The Roman "
                 "Res publica was an early republic."),
    ("Galaxy", "A galaxy is a system of stars. The Milky Way is the galaxy that contains the Solar System; "
               "a galaxy may hold billions of stars."),
    ("Rome", "Rome was the capital of the Res publica and of the Empire. Galaxy is a word Romans did not use."),
]


def _docs() -> list[Document]:
    return [Document(doc_id=f"d{i}", title=t, text=x) for i, (t, x) in enumerate(PAGES)]


def _build(tmp: Path, cfg: MentionConfig | None = None) -> Graph:
    b = GraphBuilder()
    b.entity("d2", "Nile", "d2", aliases=["Nile River"])  # an alias: the longer name has a page after all
    b.entity("d8", "Republic", "d8", aliases=["Res publica"])  # a common-word page reached by its alias
    b.add_mentions(_docs(), config=cfg)
    return b.build(tmp)


def test_names_link_and_words_do_not(tmp_path: Path) -> None:
    g = _build(tmp_path / "g")
    m = {t: {d for d, _ in out_edges(g, t)} for t in g.titles}
    # a true single-word name links, mid-sentence and at a sentence start ("Paris is ...", "The Nile ...")
    assert "Paris" in m["France"] and "France" in m["Paris"] and "Nile" in m["Egypt"]
    # an alias reaches its page: "Nile River" (alias) links Nile; "Res publica" reaches the concept page Republic
    assert ("Nile", "mentions") in out_edges(g, "Egypt") and "Republic" in m["Rome"]
    # a name inside a longer name: "Amazon River" is not the Amazon page (no page for the longer name)
    assert "Amazon" not in m["Brazil"]
    # common-word titles are not patterns: "city", "second", "republic", "galaxy" are words in this corpus
    for word in ("City", "Second", "Republic", "Galaxy"):
        assert all(word not in m[t] for t in m if t not in ("Rome",)), word
    assert "Galaxy" not in m["Rome"]  # "Galaxy is a word ..." at a sentence start: still a word
    assert sorted(g.meta["mention_common_words"]) == ["City", "Galaxy", "Republic", "Second"]
    c = g.meta["counts"]
    assert c["mention_edges_dropped_common_word"] == 4 and c["mention_edges_dropped_longer_name"] >= 1
    s = mention_stats(g)
    assert s["common_word_titles"] == 4 and s["mention_edges_into_common_word_titles"] == 0
    assert s["edges_into_common_word_titles"] == 1  # Rome -> Republic through its alias
    assert s["most_linked"][0][1] == int(g.in_degree.max())


def test_sentence_start_rule_when_common_words_are_kept(tmp_path: Path) -> None:
    g = _build(tmp_path / "g", MentionConfig(common_words="keep"))
    # kept, labelled, but a sentence-start "Second," / "City life" / "Galaxy is" is not a mention
    assert ("Republic", COMMON_MENTION_RELATION) in out_edges(g, "Egypt")  # "the word Republic is": standalone
    assert "Second" not in {d for d, _ in out_edges(g, "Paris")}  # "every second visitor": lower case, no match
    assert "Second" not in {d for d, _ in out_edges(g, "Brazil")}  # "Second, it is big." sentence start
    assert "Galaxy" not in {d for d, _ in out_edges(g, "Rome")}
    assert g.meta["counts"]["mention_edges_dropped_sentence_start"] >= 2
    # "Second World War": a longer name, so France does not link Second even in keep mode
    assert "Second" not in {d for d, _ in out_edges(g, "France")}
    s = mention_stats(g)
    assert s["mention_edges_into_common_word_titles"] == g.meta["counts"]["mention_edges_common_word"] > 0
    # walks never take a common-word edge: a page reached only through one is not a hop
    res = walk(g, WalkConfig(n_walks=200, min_hops=1, max_hops=1, jump_prob=0.0, backtrack=False,
                             reachable_seeds=False, min_seed_degree=0))
    common = {g.node_by_title(t) for t in g.meta["mention_common_words"]}
    via = [(c.hops[0].title, c.hops[1].title) for c in res.chains if g.node_by_title(c.hops[1].title) in common]
    assert all(("Republic", "mentions") in out_edges(g, a) for a, _ in via), via  # only through the alias


def test_all_matches_is_the_old_behaviour(tmp_path: Path) -> None:
    old = _build(tmp_path / "old", MentionConfig(common_words="keep", names_only=False))
    new = _build(tmp_path / "new")
    assert ("Second", COMMON_MENTION_RELATION) in out_edges(old, "France")  # "the Second World War" -> Second
    assert ("Amazon", "mentions") in out_edges(old, "Brazil")
    assert old.meta["counts"]["mention_edges"] > new.meta["counts"]["mention_edges"]


@pytest.mark.parametrize(("text", "word", "longer"), [
    ("during the Second World War.", "Second", True),
    ("the Federal Democratic Republic of Nepal", "Republic", True),
    ("the Federal Democratic Republic of Nepal", "Nepal", True),
    ("the Amazon River basin", "Amazon", True),
    ("the Bank of England", "England", True),
    ("Austria-Hungary", "Hungary", True),
    ("He went to Paris in May.", "Paris", False),
    ("crowned by King Bhumibol Adulyadej in 1950", "Bhumibol Adulyadej", False),  # a person, addressed
    ("the state of New Mexico", "Mexico", True),
    ("Thomas Barnard JP DL MP (1830-1909)", "Thomas Barnard", False),  # post-nominals
    ("the reign of Louis XIV began", "Louis", True),  # a roman numeral is part of the name
    ("the wife of Lothair II of Lotharingia.", "Lothair II", False),  # a person "of" a place is that person
    ("In Paris, it rained.", "Paris", False),  # "In" is capitalised only because it starts the sentence
    ("France's capital", "France", False),
    ("Paris-based firms", "Paris", False),
    ("north of France and Spain", "France", False),
])
def test_in_longer_name(text: str, word: str, longer: bool) -> None:
    s = text.index(word)
    assert in_longer_name(text, s, s + len(word)) is longer


def test_concept_page_from_its_own_text() -> None:
    pages = dict(PAGES)
    assert is_concept_page("Galaxy", pages["Galaxy"]) and is_concept_page("Second", pages["Second"])
    assert not is_concept_page("Paris", pages["Paris"]) and not is_concept_page("Nile", pages["Nile"])
    assert not is_concept_page("Mercury (planet)", "Mercury is the smallest planet. Mercury has no moon.")


def test_unchanged_where_no_rule_applies(tmp_path: Path) -> None:
    docs = [Document(doc_id="a", title="Alpha", text="Alpha borders Beta and Gamma."),
            Document(doc_id="b", title="Beta", text="Beta lies south of Alpha; Gamma is west."),
            Document(doc_id="c", title="Gamma", text="Nothing but Beta.")]

    def edges(cfg: MentionConfig) -> set[tuple[int, int]]:
        b = GraphBuilder()
        b.add_mentions(docs, config=cfg)
        g = b.build()
        src = np.repeat(np.arange(g.n_nodes), g.out_degree)
        return set(zip(src.tolist(), np.asarray(g.indices).tolist(), strict=True))

    assert edges(MentionConfig()) == edges(MentionConfig(common_words="keep", names_only=False))


def _edge_diff(build: Any) -> tuple[set[tuple[str, str]], set[tuple[str, str]], dict[str, int]]:
    """(mention edges removed, added) by the rules vs every whole-word match, and the rule counts."""

    def mention_edges(g: Graph) -> set[tuple[str, str]]:
        src = np.repeat(np.arange(g.n_nodes), g.out_degree)
        names = {i for i, r in enumerate(g.relations) if r.startswith("mentions")}
        t = g.titles
        return {(t[a], t[b]) for a, b, r in zip(src.tolist(), np.asarray(g.indices).tolist(),
                                                 np.asarray(g.relation_ids).tolist(), strict=True) if r in names}

    before = build(MentionConfig(names_only=False, common_words="keep"))
    after = build(MentionConfig())
    counts = after.meta["counts"]
    dropped = {r: counts[f"mention_edges_dropped_{r}"] for r in ("common_word", "sentence_start", "longer_name")}
    return mention_edges(before) - mention_edges(after), mention_edges(after) - mention_edges(before), dropped


def test_sample_world_loses_only_words_of_longer_names() -> None:
    """The bundled world's pages are names: the rules only drop names inside longer ones ("New Mexico")."""
    from longtracerl.graph.sample import sample_sources

    _, triples, entities, ds = sample_sources()

    def build(cfg: MentionConfig) -> Graph:
        b = GraphBuilder()
        if entities is not None:
            b.add_entities(entities)
        b.add_triples(triples, undirected=True)
        b.add_mentions(ds, config=cfg)
        return b.build(docstore=ds)

    removed, added, dropped = _edge_diff(build)
    assert not added and dropped["common_word"] == dropped["sentence_start"] == 0
    assert len(removed) == dropped["longer_name"] > 0
    assert {("Algeria", "Iraq"), ("Argentina", "Australia")} <= removed  # "Islamic State of Iraq", "Australia Group"
    assert ("Spain", "France") not in removed


@pytest.mark.shared_data
def test_2wiki_world_loses_only_rule_hits(shared_data: Path) -> None:
    import json

    rows = json.loads((shared_data / "2wiki_corpus_6119.json").read_text())
    docs = [Document(doc_id=f"p{i}", title=r["title"], text=r["text"]) for i, r in enumerate(rows)]

    def build(cfg: MentionConfig) -> Graph:
        b = GraphBuilder()
        b.add_mentions(docs, config=cfg)
        return b.build()

    removed, added, dropped = _edge_diff(build)
    assert not added and len(removed) == sum(dropped.values())
    assert len(removed) < 0.06 * 2120  # 2,120 mention edges before: a few percent are words, not names
    assert ("Melvin Kranzberg", "Reserve") in removed  # "Case Western Reserve University"
    assert ("Waldrada of Lotharingia", "Lothair II") not in removed  # "Lothair II of Lotharingia" is Lothair II


def test_of_name_is_no_evidence_and_concepts_do_not_seed(tmp_path: Path) -> None:
    from longtracerl.graph.mentions import title_usage

    # "Gulf of Guinea" links like any name but does not count as the corpus writing "Gulf" as a name
    assert title_usage("Gulf", "The Gulf of Guinea is warm. A gulf is an inlet, and this gulf is big.") == (2, 0)
    assert title_usage("Lothair II", "She married Lothair II of Lotharingia. Lothair II died.") == (0, 0)
    g = _build(tmp_path / "g")
    words = set(g.meta["mention_common_words"])
    cfg = WalkConfig(n_walks=300, min_hops=0, max_hops=1, jump_prob=0.5, min_seed_degree=0, backtrack=False)
    res = walk(g, cfg)
    assert res.chains and not any(h.title in words for c in res.chains for h in c.hops if h.jumped or h is c.hops[0])
    res = walk(g, cfg.model_copy(update={"seed_common_words": True}))
    assert any(c.hops[0].title in words for c in res.chains)  # the switch lets them seed again
