"""Validators that need the graph and the search engine, for every writer (template and LLM).

- ``hop_ambiguous``: a hop's clue fits another candidate about as well as the target (margin below
  ``hop_margin``), a moved-to hop has no clue and a relation that does not pin it, or the seed's / a jump's
  clue does not single its entity out in the whole corpus.
- ``shortcut``: the whole question, or its last clue alone, searched once ranks the answer's page 1st: the
  chain is not needed. ``ValidationConfig.shortcut`` says whether that rejects or is only counted.
- ``concept_answer``: the answer is a generic concept page ("Galaxy", "River"), not a name (``answer_kind``).
- ``reader_not_first``: a second reader, the search engine's own scorer (BM25 with the index's analyzer and
  statistics), ranks the previous entity's neighbours against the clue and does not put the target first
  with a margin of ``reader_margin`` (blurred figures match the page's blurred form).
- ``clue_<kind>`` (``hygiene``): a clue with a mask glued into a name, a table row, orphan symbols, a blur
  artefact, or fewer than two words rarer than the corpus median.
- ``off_chain``: the question does not ask about the chain: fewer than ``min_on_chain`` of its hops have
  their clue (or, without a clue, their relation) in the question's words.

``CheckReport.ran`` names the checks that ran (``validation.passed`` lists only those).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from longtracerl.graph.mentions import is_concept_page
from longtracerl.records import Chain, Document
from longtracerl.synth.questions import hygiene
from longtracerl.synth.questions.clues import ClueContext, terms
from longtracerl.synth.questions.phrasing import shows_type
from longtracerl.synth.questions.validate import Draft, ValidationConfig, used_hops


@dataclass
class CheckReport:
    fails: list[tuple[str, str]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)


def _indices(draft: Draft, chain: Chain) -> list[int]:
    idx = draft.info.get("hops_used")
    if isinstance(idx, list) and idx and all(isinstance(i, int) and 0 <= i < len(chain.hops) for i in idx):
        return list(idx)
    return list(range(len(chain.hops)))


def shown_kind(draft: Draft, k: int) -> str | None:
    """The type words the question shows for its ``k``-th hop ("an American film director its page mentions"),
    as the writer recorded them (``validation.type_words``) and only if the question does show them: a reader
    rules out the neighbours whose page says they are something else."""
    kinds = draft.info.get("type_words")
    if not isinstance(kinds, list) or k >= len(kinds) or not isinstance(kinds[k], str):
        return None
    return kinds[k] if shows_type(draft.question, kinds[k]) else None


def check_hops(draft: Draft, chain: Chain, ctx: ClueContext, cfg: ValidationConfig) -> CheckReport:
    """Recompute every hop's margin from the clue text alone (whoever wrote it), and let the second reader
    (the engine's scorer) rank each moved-to hop's candidates."""
    rep = CheckReport(ran=["hop_unique", "reader_first"])
    idx = _indices(draft, chain)
    clues = list(draft.hop_clues) + [""] * (len(chain.hops) - len(draft.hop_clues))
    margins: list[float | None] = []
    ranks: list[int | None] = []
    reader_margins: list[float | None] = []
    for k, i in enumerate(idx):
        hop, clue = chain.hops[i], clues[i].strip()
        entry = k == 0 or hop.jumped
        if entry or not clue:
            ranks.append(None)
            reader_margins.append(None)
        if not clue:
            margins.append(None)
            if not entry and ctx.relation_pins(chain.hops[idx[k - 1]], hop):
                continue  # "its director": the only neighbour through that relation
            pinned = None if entry else ctx.type_pins(chain.hops[idx[k - 1]], hop)
            if pinned and f"the {pinned} ".casefold() in draft.question.casefold():
                continue  # "the film director its page mentions": no other neighbour is a director
            rep.fails.append(("hop_ambiguous", f"hop {i} ({hop.title!r}) has no clue and its relation "
                              f"{hop.relation!r} has other targets: it is not pinned"))
            continue
        if entry:
            if ctx.search is None:
                margins.append(None)
                continue
            rank, hits = ctx.global_rank(clue, hop.doc_id)
            m, who = ctx.margin(clue, hop.doc_id or "", [(h.doc_id, h.title) for h in hits])
            margins.append(round(m, 3))
            if rank != 1 or m < ctx.cfg.unique_margin:
                rep.fails.append(("hop_ambiguous", f"hop {i} ({hop.title!r}) is not unique in the corpus: its "
                                  f"clue ranks it {rank or 'below ' + str(ctx.cfg.unique_k)}, margin {m:.2f} "
                                  f"(also fits {who!r})"))
            continue
        prev = chain.hops[idx[k - 1]]
        cands = ctx.candidates(prev, hop, shown_kind(draft, k))
        m, who = ctx.margin(clue, hop.doc_id or "", cands)
        margins.append(round(m, 3))
        if m < cfg.hop_margin:
            rep.fails.append(("hop_ambiguous", f"hop {i} ({hop.title!r}): clue margin {m:.2f} < {cfg.hop_margin} "
                              f"over {len(cands)} candidates (also fits {who!r})"))
        rank, rm, rwho = ctx.reader_rank(clue, hop.doc_id or "", cands)
        ranks.append(rank)
        reader_margins.append(rm)
        if rank != 1 or rm < ctx.cfg.reader_margin:
            rep.fails.append(("reader_not_first", f"hop {i} ({hop.title!r}): the engine's scorer ranks it {rank} "
                              f"of {len(cands)} neighbours, margin {rm:.2f} < {ctx.cfg.reader_margin} "
                              f"({rwho!r} scores as high)"))
    rep.details["hop_margins"] = margins
    rep.details["reader_ranks"] = ranks
    rep.details["reader_margins"] = reader_margins
    return rep


def check_hygiene(draft: Draft, chain: Chain, ctx: ClueContext | None) -> CheckReport:
    """Every clue of the question reads as a clean description (``hygiene``); ``too_common`` needs the
    corpus statistics of ``ctx``."""
    rep = CheckReport(ran=["clue_hygiene"])
    clues = list(draft.hop_clues)[: len(chain.hops)]
    for i, clue in enumerate(clues):
        c = clue.strip()
        if not c:
            continue
        bad = hygiene.problem(c, ctx.stats if ctx else None, ctx.clue_terms(c) if ctx else None)
        if bad is not None:
            rep.fails.append((f"clue_{bad[0]}", f"hop {i} ({chain.hops[i].title!r}): {bad[1]}"))
    return rep


def check_shortcut(draft: Draft, chain: Chain, ctx: ClueContext) -> CheckReport:
    """Does one search find the answer's page (rank 1) without the chain?"""
    rep = CheckReport()
    if ctx.search is None:
        return rep
    rep.ran.append("no_shortcut")
    idx = _indices(draft, chain)
    target = chain.hops[idx[-1]].doc_id
    found: list[str] = []
    if ctx.finds_first(draft.question, target):
        found.append("question")
    clues = list(draft.hop_clues) + [""] * len(chain.hops)
    last_clue = clues[idx[-1]].strip()
    if len(idx) > 1 and last_clue and ctx.finds_first(last_clue, target):
        found.append("last_clue")
    rep.details["shortcut"] = found
    if found:
        rep.fails.append(("shortcut", f"searching the {' and the '.join(found)} ranks the answer's page "
                          f"{chain.hops[idx[-1]].title!r} first"))
    return rep


def check_on_chain(draft: Draft, chain: Chain, cfg: ValidationConfig) -> CheckReport:
    """Share of hops whose clue or relation words the question contains (half of them or more each)."""
    rep = CheckReport(ran=["on_chain"])
    hops = used_hops(draft, chain)
    idx = _indices(draft, chain)
    qt = set(terms(draft.question))
    clues = list(draft.hop_clues) + [""] * len(chain.hops)
    on = 0
    for k, (i, hop) in enumerate(zip(idx, hops, strict=True)):
        evidence = terms(clues[i]) if clues[i].strip() else terms(hop.relation or "") if k else []
        if not evidence:  # a seed without a clue, or an unlabelled hop: nothing to look for
            on += 1 if k == 0 else 0
            continue
        if sum(1 for t in evidence if t in qt) >= 0.5 * len(evidence):
            on += 1
    share = on / len(hops) if hops else 0.0
    rep.details["on_chain_share"] = round(share, 3)
    if share < cfg.min_on_chain:
        rep.fails.append(("off_chain", f"only {on} of {len(hops)} hops have their clue or relation in the question"))
    return rep


def chain_checks(draft: Draft, chain: Chain, ctx: ClueContext | None, cfg: ValidationConfig) -> CheckReport:
    """All checks; ``shortcut`` only fails the draft when ``cfg.shortcut == "reject"``. ``ran`` names those
    that ran: without a graph and search context only ``on_chain`` and the hygiene rules (no ``too_common``)."""
    out = CheckReport()
    reps = [check_on_chain(draft, chain, cfg), check_hygiene(draft, chain, ctx)]
    if ctx is not None:
        reps += [check_hops(draft, chain, ctx, cfg), check_shortcut(draft, chain, ctx)]
    for r in reps:
        out.details.update(r.details)
        out.ran += r.ran
        for f in r.fails:
            if f[0] == "shortcut" and cfg.shortcut == "keep":
                continue
            out.fails.append(f)
    out.details["hops_checked"] = ctx is not None
    return out


def _words(s: str) -> str:
    return " " + " ".join(re.findall(r"\w+", s.lower())) + " "


def answer_kind(draft: Draft, chain: Chain, docs: dict[str, Document]) -> str:
    """``named_entity``, ``concept`` (a generic concept page, see ``graph.mentions.is_concept_page``) or
    ``attribute`` (the answer is not the last hop's name: a date, a number, a value from its page)."""
    hop = used_hops(draft, chain)[-1]
    name = _words(re.sub(r"\s*\([^)]*\)$", "", hop.title))
    answers = [_words(a) for a in [draft.answer, *draft.answer_aliases] if a.strip()]
    if not name.strip() or not any(a.strip() and (a in name or name in a) for a in answers):
        return "attribute"
    doc = docs.get(hop.doc_id or "")
    return "concept" if doc is not None and is_concept_page(hop.title, doc.text) else "named_entity"


def check_answer_kind(draft: Draft, chain: Chain, docs: dict[str, Document]) -> CheckReport:
    """``concept_answer``: a question does not end on a generic concept page ("Galaxy", "Republic")."""
    rep = CheckReport(ran=["not_concept"])
    kind = answer_kind(draft, chain, docs)
    rep.details["answer_kind"] = kind
    if kind == "concept":
        rep.fails.append(("concept_answer", f"the answer {draft.answer!r} is a generic concept: its page writes "
                          "its title mostly in lower case"))
    return rep
