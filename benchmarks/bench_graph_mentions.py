"""Mention graphs on a concept-rich world: do mentions link names or words? (issue 23 figures)

    .venv/bin/python benchmarks/bench_graph_mentions.py [--walks 2000] [--hops 4] [--questions 300] [--show 20]

The world: the bundled sample world's 256 country pages plus one page per common concept ("Republic",
"Island", "River", "City", "Second", "Galaxy", ...), generated here in the encyclopedia's style (a concept
article uses its title as an ordinary lower-case word), so the corpus has what Wikipedia and KILT have:
concept pages whose titles also occur capitalised inside names ("Czech Republic", "Christmas Island") and
at sentence starts. Both graphs use the world's triples and entity file plus title mentions:

- before: every whole-word title match links (``MentionConfig(names_only=False, common_words="keep")``, the
  matcher as it was: same edge sets on the sample and 2Wiki worlds) and walks take every edge;
- after: the defaults (names only, common-word titles skipped; walks skip common-word edges and do not
  seed or jump onto common-word pages).

Printed per graph: mention edges, the share of them that point at a concept page (the concepts written
here are the ground truth, not the rule's own list), the mention pass's seconds, walk yield and chains
through or ending on a concept page (an entity-answer writer answers with the last hop), and template
questions by answer kind. ``--show N`` prints N questions of the "after" graph with their chains.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from longtracerl.corpus.docstore import DocStore, build_docstore
from longtracerl.graph.build import GraphBuilder
from longtracerl.graph.mentions import MentionConfig
from longtracerl.graph.sample import sample_sources
from longtracerl.graph.store import Graph
from longtracerl.graph.walk import WalkConfig, walk
from longtracerl.io import read_records
from longtracerl.records import Document, Question, Rejection

# concept -> (what it is, a plural, one more fact); the pages are written from these, in lower case as an
# encyclopedia writes a concept, with the title capitalised only where a sentence starts with it
CONCEPTS: dict[str, tuple[str, str, str]] = {
    "Republic": ("a form of government in which power is held by the people and their elected representatives",
                 "republics", "a republic has no hereditary monarch"),
    "Island": ("a piece of land surrounded by water", "islands", "the largest island is usually said to be Greenland"),
    "River": ("a natural stream of water flowing towards an ocean, a lake or another river", "rivers",
              "a river is fed by rain, springs and melting snow"),
    "City": ("a large and permanent human settlement", "cities", "a city usually has its own local government"),
    "Second": ("the base unit of time in the International System of Units", "seconds",
               "a minute has sixty of them, and a second is defined by a caesium clock"),
    "Galaxy": ("a system of stars, gas, dust and dark matter bound by gravity", "galaxies",
               "the galaxy that contains the Solar System is the Milky Way"),
    "Region": ("an area of land with common features", "regions", "a region may be natural or administrative"),
    "Valley": ("a low area of land between hills or mountains", "valleys", "a valley is often carved by a river"),
    "Kingdom": ("a country ruled by a king or a queen", "kingdoms", "a kingdom may also be a constitutional monarchy"),
    "Desert": ("a barren area of land with little precipitation", "deserts", "a desert can be hot or cold"),
    "Ocean": ("a very large body of salt water", "oceans", "an ocean covers most of the planet's surface"),
    "Lake": ("a body of water surrounded by land", "lakes", "a lake may be fresh or salty"),
    "Mountain": ("a large natural elevation of the earth's surface", "mountains", "a mountain is higher than a hill"),
    "Coast": ("the land next to the sea", "coasts", "a coast changes with tides and storms"),
    "Capital": ("the city where a country's government sits", "capitals", "a capital is often the largest city"),
    "Border": ("a line separating two countries or regions", "borders", "a border may follow a river or a ridge"),
    "Federation": ("a union of partially self-governing states under a central government", "federations",
                   "a federation divides powers between the centre and its states"),
    "Monarchy": ("a form of government with a hereditary head of state", "monarchies",
                 "a monarchy may be absolute or constitutional"),
    "Territory": ("an area of land under the jurisdiction of a state", "territories",
                  "a territory may be dependent on another country"),
    "Film": ("a work of visual art that tells a story with moving images", "films",
             "a film is shown in cinemas or on television"),
    "Father": ("a male parent", "fathers", "a father may be biological or adoptive"),
    "Gulf": ("a large inlet of the sea into the land", "gulfs", "a gulf is larger than a bay"),
    "Strait": ("a narrow passage of water connecting two seas", "straits", "a strait is often a shipping lane"),
    "Plateau": ("an area of high, level ground", "plateaus", "a plateau may be cut by deep valleys"),
    "Peninsula": ("a piece of land almost surrounded by water", "peninsulas", "a peninsula is joined to a mainland"),
    "Volcano": ("an opening in the earth's crust through which lava erupts", "volcanoes",
                "a volcano may be active, dormant or extinct"),
    "Archipelago": ("a group of islands", "archipelagos", "an archipelago may form along a volcanic arc"),
    "Delta": ("a landform at the mouth of a river where it splits into channels", "deltas",
              "a delta is built from the sediment a river carries"),
}


def concept_pages() -> list[Document]:
    """One page per concept, in an encyclopedia's register (not copied from anywhere)."""
    docs = []
    for i, (title, (what, plural, fact)) in enumerate(CONCEPTS.items()):
        w = title.lower()
        art = "An" if w[0] in "aeiou" else "A"
        text = (f"{title}\n{art} {w} is {what}. {plural.capitalize()} are found in many parts of the world, and "
                f"the study of {plural} is old. {fact[0].upper() + fact[1:]}. In most languages the word for {w} is "
                f"short; every {w} has a name of its own. Some {plural} are famous, and a {w} can be the subject "
                f"of law, of trade and of war. {title} is also used as a name in fiction.")
        docs.append(Document(doc_id=f"concept-{i:03d}", title=title, text=text))
    return docs


def build(cfg: MentionConfig, ds: Any, docs: list[Document], out: Path) -> tuple[Graph, float]:
    """The world's graph: entities, triples (both ways) and title mentions, like the sample graph."""
    _, triples, entities, _ = sample_sources()
    b = GraphBuilder()
    if entities is not None:
        b.add_entities(entities)
    b.add_triples(triples, undirected=True)
    t = time.perf_counter()
    b.add_mentions(docs, config=cfg)
    secs = time.perf_counter() - t
    return b.build(out, docstore=ds), secs


def figures(label: str, g: Graph, secs: float, concepts: set[str], args: argparse.Namespace, ds: Any,
            tmp: Path, skip: list[str] | None) -> dict[str, Any]:  # fmt: skip
    rel = np.asarray(g.relation_ids)
    mention_ids = [i for i, r in enumerate(g.relations) if r.startswith("mentions")]
    is_m = np.isin(rel, mention_ids)
    dst = np.asarray(g.indices)
    concept_nodes = np.zeros(g.n_nodes, dtype=bool)
    concept_nodes[[n for n in (g.node_by_title(t) for t in concepts) if n is not None]] = True
    n_m = int(is_m.sum())
    into = int((is_m & concept_nodes[dst]).sum())
    cfg = WalkConfig(n_walks=args.walks, max_hops=args.hops, min_hops=args.hops, seed=1)
    if skip is not None:  # the walker as it was: every edge, and any page may seed or receive a jump
        cfg = cfg.model_copy(update={"skip_relations": skip, "seed_common_words": True})
    t = time.perf_counter()
    res = walk(g, cfg)
    walk_secs = time.perf_counter() - t
    through = sum(any(h.title in concepts for h in c.hops[1:]) for c in res.chains)
    ending = sum(c.hops[-1].title in concepts for c in res.chains)
    kinds, rejected, questions = _questions(res.chains[: args.questions], ds, tmp / label)
    print(f"[{label}] mention edges {n_m:,}; into concept pages {into:,} = {100 * into / max(n_m, 1):.2f}% "
          f"(mention pass {secs:.2f} s)")
    print(f"[{label}] walks: {res.n_chains:,}/{args.walks:,} kept = {100 * res.n_chains / max(args.walks, 1):.1f}% "
          f"yield ({walk_secs:.2f} s); through a concept page {through:,} "
          f"({100 * through / max(res.n_chains, 1):.2f}%), ending on one {ending:,} "
          f"({100 * ending / max(res.n_chains, 1):.2f}%)")
    print(f"[{label}] template questions on the first {min(args.questions, res.n_chains)} chains: "
          f"{sum(kinds.values())} kept, by answer kind {dict(kinds)}; rejected {dict(rejected)}")
    print(f"[{label}] answers that are concepts: {kinds['concept'] + rejected['concept_answer']} (kept as concept "
          f"{kinds['concept']} + caught by the concept_answer check {rejected['concept_answer']}, which would "
          "have been kept without it)")
    return {"questions": questions, "chains": {c.chain_id: c for c in res.chains}}


def _questions(chains: list[Any], ds: Any, out: Path) -> tuple[Counter[str], Counter[str], list[Question]]:
    from longtracerl.synth.questions import TemplateQuestionWriter, write_questions

    out.mkdir(parents=True, exist_ok=True)
    qp, rp = out / "questions.jsonl", out / "rejected.jsonl"
    asyncio.run(write_questions(chains, ds, TemplateQuestionWriter(), qp, rp, progress=False))
    qs = read_records(qp, Question) if qp.exists() else []
    rej = read_records(rp, Rejection) if rp.exists() else []
    return (Counter(str(q.validation.get("answer_kind")) for q in qs), Counter(r.reason for r in rej), qs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--walks", type=int, default=2000)
    ap.add_argument("--hops", type=int, default=4, help="moves per walk (the pipeline's default)")
    ap.add_argument("--questions", type=int, default=300, help="template questions written per graph")
    ap.add_argument("--show", type=int, default=20, help="questions of the 'after' graph to print with chains")
    args = ap.parse_args()
    print(f"load: {os.getloadavg()[0]:.2f} (1-min average; {os.cpu_count()} CPUs)")
    _, _, _, sample_ds = sample_sources()
    docs = [*sample_ds, *concept_pages()]
    concepts = set(CONCEPTS)
    print(f"world: {len(docs) - len(concepts)} sample-world pages + {len(concepts)} concept pages")
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        build_docstore(tmp / "ds", docs)
        ds = DocStore.open(tmp / "ds")
        before, s_before = build(MentionConfig(names_only=False, common_words="keep"), ds, docs, tmp / "g-before")
        after, s_after = build(MentionConfig(), ds, docs, tmp / "g-after")
        found = set(after.meta.get("mention_common_words", []))
        print(f"common-word titles found by the corpus counts: {len(found)} ({len(found & concepts)} of the "
              f"{len(concepts)} concepts; others: {sorted(found - concepts)[:10]})")
        figures("before", before, s_before, concepts, args, ds, tmp, skip=[])
        res = figures("after", after, s_after, concepts, args, ds, tmp, skip=None)
        print(f"mention pass: after / before x{s_after / max(s_before, 1e-9):.2f}")
        for q in res["questions"][: args.show]:
            c = res["chains"][q.chain_id]
            path = " -> ".join(h.title + (" [jump]" if h.jumped else f" ({h.relation})" if h.relation else "")
                               for h in c.hops)
            print(f"\nQ: {q.question}\nA: {q.answer} [{q.validation.get('answer_kind')}]\nchain: {path}")


if __name__ == "__main__":
    main()
