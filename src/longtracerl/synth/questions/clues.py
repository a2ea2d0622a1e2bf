"""Hop clues: what pins each hop of a template question to exactly one entity (PAPER.md 2a).

A relation alone ("an entity it shares a border with", "an entity its page mentions") has many targets.
A reader standing on hop ``i-1`` sees its graph neighbours (the entities its page links to or names):
the clue of hop ``i`` is a sentence of the target's own page, with the target's names masked and no other
chain name or the answer in it, chosen so that among those neighbours only the target fits it.

Fit is measured by term overlap weighted by corpus IDF: ``fit(clue, page)`` is the IDF mass of the clue's
content terms found in the page over the clue's total mass (1.0 for the target, whose page the clue comes
from). The hop's *margin* is ``fit(target) - max fit(other candidate)``; a clue is usable when the margin
is at least ``hop_margin``. Among usable clues the writer prefers *weak* ones: clues that, searched on their
own over the whole corpus, do not put the target at rank 1 (so the chain, not one lookup, finds it).

The seed, and an entity reached by a random jump, have no incoming relation: they are pinned by a clue that
is unique in the whole corpus (the target is the top hit of a search for the clue, with a margin over the
next hit), so the reader can find them by searching.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from longtracerl.corpus.stats import NoTermStats, TermStats, stats_for
from longtracerl.records import Document, Hop
from longtracerl.synth.questions import hygiene, pieces
from longtracerl.synth.questions.names import MASK, contains_any, mask
from longtracerl.synth.questions.obfuscate import blur, drop_date_parens
from longtracerl.synth.questions.phrasing import page_type
from longtracerl.synth.questions.text import _WORD, STOPWORDS, terms

OTHER_MASK = "another entity"
MAX_TYPE_PIN_NEIGHBOURS = 200  # a hub's neighbours are not all read to pin a hop by its type words
_M1, _M2 = pieces.SELF, pieces.OTHER  # one-word markers while cutting
_SENT = re.compile(r"(?<=[.!?;])\s+|\n+")
_HEADER = re.compile(r"^(?:[A-Z][\w ()'/-]{0,40}|note|notes?\s?\d*):\s*")
_STAND_INS = re.compile(r"\b(?:this entity|another entity|someone|another one)\b")  # no content words
# "X (Chinese: ...; Literal Title: ...) is a ...", "X 1949 is a ...": aliases and a title's year
_OPENING_ASIDE = re.compile(rf"^{_M1}\s*(?:\([^()]*\)|\d{{4}}\b)")
_K1, _B = 1.2, 0.75  # BM25 as tantivy scores it


class ClueConfig(BaseModel):
    """How hop clues are chosen and checked."""

    model_config = ConfigDict(extra="forbid")

    hop_margin: float = Field(0.35, ge=0.0, le=1.0, description="min fit(target) - fit(best other candidate)")
    min_clue_words: int = Field(3, ge=1, description="content words a clue sentence must have")
    max_clue_words: int = Field(28, ge=5, description="clue sentences are cut to this many words")
    max_sentences: int = Field(12, ge=1, description="sentences of the target page considered")
    window_words: int = Field(10, ge=4, description="unused: clue pieces are whole clauses now (kept so that "
                              "older configs still load)")
    max_searches: int = Field(12, ge=1, description="clues searched per hop when looking for a weak one")
    max_candidates: int = Field(400, ge=2, description="neighbours scored per hop (hubs are sampled)")
    prefer_weak: bool = Field(True, description="prefer clues whose own search does not rank the target 1st")
    unique_k: int = Field(10, ge=2, description="hits checked when a clue must be unique in the corpus")
    unique_margin: float = Field(0.2, ge=0.0, le=1.0, description="seed/jump clue: min fit margin over other hits")
    reader_margin: float = Field(0.1, ge=0.0, le=1.0, description="second reader: the engine's BM25 must rank the "
                                 "target first among the neighbours, ahead of the next by this share of its score")


@dataclass
class ClueChoice:
    """The clue chosen for one hop, with the numbers that justify it."""

    text: str
    margin: float
    runner_up: str | None = None  # title of the best other candidate
    n_candidates: int = 0
    global_rank: int | None = None  # rank of the target when the clue alone is searched (None: not in top k)
    kind: str = "hop"  # hop | unique (seed or jump) | relation (a functional relation) | type (type words); the
    # last two have no clue text


@dataclass
class ClueFailure:
    reason: str  # no_clue_sentence | hop_ambiguous | seed_not_unique
    detail: str


def _describes(piece: str) -> bool:
    """A clue says something about the entity, not only names: two or more lower-case content words, no run
    of masks (the rest of a masked name, "Harold Lillis this entity this entity Jr") and at most two masks
    ("New this entity, New this entity (or New this entity ...)" says nothing)."""
    if re.search(rf"{MASK} {MASK}|{OTHER_MASK} {MASK}|{MASK} {OTHER_MASK}", piece) or piece.count(MASK) > 2:
        return False
    lower = [w for w in _WORD.findall(piece) if w.islower() and w not in STOPWORDS and w != "entity" and len(w) > 2]
    return len(lower) >= 2


def _balance(piece: str) -> str:
    """Drop the brackets a cut left without their partner ("the 1920s – the 1990s) was ...")."""
    out, depth = [], 0
    for ch in piece:
        if ch == "(":
            depth += 1
        elif ch == ")":
            if depth == 0:
                continue
            depth -= 1
        out.append(ch)
    text = "".join(out)
    while depth > 0:  # unclosed: drop the last open bracket
        i = text.rfind("(")
        text = text[:i] + text[i + 1:]
        depth -= 1
    return re.sub(r"\s+", " ", text).strip()


def sentences(text: str) -> list[str]:
    out = []
    for s in _SENT.split(text):
        s = _HEADER.sub("", s.strip()).strip()
        if s:
            out.append(s)
    return out


def same_kind(a: str, b: str) -> bool:
    """Could pages typed ``a`` and ``b`` be of one kind? One's head noun is among the other's words ("film
    director" and "American film director"; "mountain town" and "lowland town famous", a type cut one word late)."""
    wa, wb = a.casefold().split(), b.casefold().split()
    return bool(wa and wb) and (wa[-1] in wb or wb[-1] in wa)


class ClueContext:
    """Graph, pages and corpus statistics shared by every chain of a run (pages and IDF are cached)."""

    def __init__(self, docstore: Any, graph: Any = None, search: Any = None, config: ClueConfig | None = None,
                 seed: int = 0, stats: TermStats | None = None) -> None:
        self.docstore = docstore
        self.graph = graph
        self.search = search
        self.cfg = config or ClueConfig()
        self.seed = seed
        self._docs: dict[str, Document | None] = {}
        self._terms: dict[str, frozenset[str]] = {}
        self._tf: dict[str, tuple[dict[str, int], int]] = {}
        self._clue_terms: dict[str, list[str]] = {}
        self._types: dict[str, str | None] = {}
        if stats is None:
            if search is None and getattr(docstore, "dir", None) is None:
                raise NoTermStats("ClueContext needs corpus statistics: pass a search backend, a DocStore or stats=")
            stats = stats_for(search, docstore)
        self.stats: TermStats = stats
        self.hygiene_rejects: Counter[str] = Counter()  # candidate pieces dropped, by hygiene kind
        self.with_stand_in: set[str] = set()  # pieces that name another chain entity by a stand-in

    # ------------------------------------------------------------ pages and statistics
    def doc(self, doc_id: str | None) -> Document | None:
        if not doc_id:
            return None
        if doc_id not in self._docs:
            try:
                self._docs[doc_id] = self.docstore.get(doc_id)
            except KeyError:
                self._docs[doc_id] = None
        return self._docs[doc_id]

    def _body(self, d: Document) -> str:
        return f"{d.title}\n{d.text}"

    def doc_terms(self, doc_id: str) -> frozenset[str]:
        """Index terms of a page as itself and blurred (a blurred clue still fits the page it came from)."""
        if doc_id not in self._terms:
            self._page_tf(doc_id)
        return self._terms[doc_id]

    def clue_terms(self, clue: str) -> list[str]:
        """The clue's content words as index terms (the index's analyzer: stemmed), masks left out."""
        ct = self._clue_terms.get(clue)
        if ct is None:
            words = " ".join(t for t in terms(_STAND_INS.sub(" ", clue)) if t != "entity")
            ct = self._clue_terms[clue] = list(dict.fromkeys(self.stats.analyze(words)))
        return ct

    def idf(self, term: str) -> float:
        return self.stats.idf(term)

    def fit(self, clue_terms: list[str], doc_id: str) -> float:
        """IDF mass of ``clue_terms`` (index terms) found in the page over their total mass. The clue writer
        and the validators weigh words by corpus IDF; the solver, which has no corpus statistics, by length
        (``solver.length_fit``)."""
        total = sum(self.idf(t) for t in clue_terms)
        if total <= 0:
            return 0.0
        have = self.doc_terms(doc_id)
        return sum(self.idf(t) for t in clue_terms if t in have) / total

    # ------------------------------------------------------------ the second reader
    def _page_tf(self, doc_id: str) -> tuple[dict[str, int], int]:
        """Term counts of a page as the index counts them, plus (once) the terms only its blurred form has,
        so blurred numbers and dates match the page's blurred form; and the page length in terms."""
        if doc_id not in self._tf:
            d = self.doc(doc_id)
            if d is None:
                self._tf[doc_id] = ({}, 0)
                self._terms[doc_id] = frozenset()
            else:
                toks = self.stats.analyze(self._body(d))
                tf = dict(Counter(toks))
                for t in self.stats.analyze(blur(self._body(d))):
                    tf.setdefault(t, 1)
                self._tf[doc_id] = (tf, len(toks))
                self._terms[doc_id] = frozenset(tf)
        return self._tf[doc_id]

    def bm25(self, query_terms: list[str], doc_id: str) -> float:
        """The search engine's own scorer (BM25, k1=1.2, b=0.75, IDF from the same statistics)."""
        tf, dl = self._page_tf(doc_id)
        norm = _K1 * (1 - _B + _B * dl / max(self.stats.avg_len, 1e-9))
        return sum(self.idf(t) * tf[t] * (_K1 + 1) / (tf[t] + norm) for t in query_terms if t in tf)

    def reader_rank(self, clue: str, target_doc: str, cands: list[tuple[str, str]]) -> tuple[int, float, str | None]:
        """A second reader: the engine's scorer ranks the candidates against the clue as a reader would type
        it (masks left out). Returns the target's rank, its relative margin over the best other candidate
        ``(s_target - s_other) / s_target`` (negative when another ranks first) and that candidate's title."""
        q = list(dict.fromkeys(self.stats.analyze(_STAND_INS.sub(" ", clue))))
        st = self.bm25(q, target_doc)
        best, who, above = 0.0, None, 0
        for did, title in cands:
            if did == target_doc:
                continue
            s = self.bm25(q, did)
            above += s >= st
            if s > best:
                best, who = s, title
        margin = (st - best) / st if st > 0 else -1.0
        return 1 + above, round(margin, 3), who

    def reader_ok(self, clue: str, target_doc: str, cands: list[tuple[str, str]]) -> bool:
        rank, m, _ = self.reader_rank(clue, target_doc, cands)
        return rank == 1 and m >= self.cfg.reader_margin

    # ------------------------------------------------------------ candidates
    def node(self, hop: Hop) -> int | None:
        g = self.graph
        if g is None:
            return None
        try:
            return int(g.node_of(hop.entity_id))
        except (KeyError, ValueError):
            n = g.node_by_doc(hop.doc_id) if hop.doc_id else None
            return None if n is None else int(n)

    def aliases(self, hop: Hop) -> list[str]:
        n = self.node(hop)
        if n is None or self.graph is None:
            return []
        return list(self.graph.aliases[n] or [])

    def candidates(self, prev: Hop, target: Hop, kind: str | None = None) -> list[tuple[str, str]]:
        """``(doc_id, title)`` of what a reader of ``prev`` can move to: its graph neighbours with a page.

        Without a graph the neighbours are approximated by the pages whose title ``prev``'s page names
        among the top search hits for it. Hubs are sampled (seeded), the target always kept. ``kind``: the type
        words the question shows for the target ("an American film director its page mentions"); a reader rules
        out the neighbours whose page says they are something else (another head noun), never one whose page
        does not say what it is.
        """
        out: dict[str, str] = {}
        g = self.graph
        pn = self.node(prev)
        if g is not None and pn is not None:
            nb = np.unique(np.asarray(g.neighbors(pn)))
            for v in nb.tolist():
                did = g.doc_ids[v]
                if did and v != pn:
                    out.setdefault(did, g.titles[v])
        elif self.search is not None:
            page = self.doc(prev.doc_id)
            text = (page.text if page else "").lower()
            for h in self.search.search(prev.title, 50):
                if h.doc_id != prev.doc_id and h.title.lower() in text:
                    out.setdefault(h.doc_id, h.title)
        if target.doc_id:
            out.setdefault(target.doc_id, target.title)
        if kind and kind != "entity":
            out = {d: t for d, t in out.items() if d == target.doc_id or not self._other_kind(d, kind)}
        items = sorted(out.items())
        cap = self.cfg.max_candidates
        if len(items) > cap:
            import random

            rng = random.Random(f"{self.seed}:{prev.entity_id}")
            rest = [it for it in items if it[0] != target.doc_id]
            items = sorted([*rng.sample(rest, cap - 1), (target.doc_id or "", target.title)])
        return items

    def relation_pins(self, prev: Hop, target: Hop) -> bool:
        """Does the relation alone pin the hop? True when ``target`` is the only neighbour of ``prev`` through
        an edge labelled ``target.relation`` ("its director", "its largest export partner"), and the label
        says something ("mentions", inverse and unlabelled edges never pin: the graph may hold one film of a
        director, the world holds many)."""
        rel = (target.relation or "").strip()
        g = self.graph
        if g is None or not rel or rel == "mentions" or rel.endswith("(inverse)") or target.jumped:
            return False  # an inverse ("a film whose director it is") is one-to-many in the world at large
        pn, tn = self.node(prev), self.node(target)
        if pn is None or tn is None:
            return False
        nb = np.asarray(g.neighbors(pn))
        names = [g.relation_name(int(r)) for r in np.asarray(g.neighbor_relations(pn))]
        via = {int(v) for v, name in zip(nb.tolist(), names, strict=True) if name == rel}
        return via == {tn}

    def _other_kind(self, doc_id: str, kind: str) -> bool:
        """The page says it is something else than ``kind`` (a page that says nothing may be one)."""
        t = self.type_of(doc_id)
        return t is not None and not same_kind(t, kind)

    def type_of(self, doc_id: str | None) -> str | None:
        """The type words of a page (``phrasing.page_type``), cached."""
        if doc_id is None:
            return None
        if doc_id not in self._types:
            self._types[doc_id] = page_type(self.doc(doc_id))
        return self._types[doc_id]

    def type_pins(self, prev: Hop, target: Hop) -> str | None:
        """The target's type words when they alone pin the hop ("the American film director its page mentions"):
        every other page ``prev`` links to says in its first sentence what it is, and none is of the same kind
        (one's head noun among the other's words: "film director" rules out "American film director", and
        "mountain town" rules out "lowland town famous"). None otherwise,
        for a jump, without a graph, or past ``MAX_TYPE_PIN_NEIGHBOURS`` neighbours. A reader checks such a
        step by opening the candidates; one search for the type words finds many pages, so it is no shortcut."""
        g = self.graph
        t = self.type_of(target.doc_id)
        pn, tn = self.node(prev), self.node(target)
        if g is None or not t or target.jumped or pn is None or tn is None:
            return None
        nb = {int(v) for v in np.asarray(g.neighbors(pn)).tolist()} - {pn, tn}
        if len(nb) > MAX_TYPE_PIN_NEIGHBOURS:
            return None
        for v in nb:
            if not g.doc_ids[v]:
                continue
            other = self.type_of(g.doc_ids[v])
            if other is None or same_kind(t, other):
                return None
        return t

    # ------------------------------------------------------------ clue sentences
    def clue_sentences(self, target: Hop, masked_self: list[str], forbidden: list[str],
                       windows: bool = False, masked_other: Sequence[str] = (), short: bool = False,
                       stand_ins: Mapping[str, str] | None = None, depth: int = 1) -> list[str]:
        """Blurred, masked pieces of the target's page usable as clues, each a whole sentence or a run of whole
        clauses (``pieces``): the target's names read "this entity"; lifespan and date parentheses are dropped
        and other dates and numbers blurred (``obfuscate``); no piece with a ``forbidden`` string (the answer).
        Another chain entity's name is checked as "another entity" and then written as its stand-in
        (``stand_ins``: name -> "someone", "another film", ...; default "another one"); such pieces are
        recorded in ``with_stand_in``, and the writer takes one only when no other piece pins the hop. With
        ``windows`` the clause runs of every sentence (weaker clues) are offered too, with ``short`` also the
        parts of a clause split before a conjunction (the weakest, for the last hop, where a strong clue is a
        shortcut). Every piece passes ``hygiene``; what is dropped is counted by kind."""
        d = self.doc(target.doc_id)
        if d is None:
            return []
        ins = stand_ins or {}
        groups: dict[str, list[str]] = {}
        for n in masked_other:
            groups.setdefault(ins.get(n, "another one"), []).append(n)
        markers = {f"{_M2[:-1]}{k}{_M2[-1]}": phrase for k, phrase in enumerate(groups)}
        out: list[str] = []
        for n_sent, sent in enumerate(sentences(d.text)):
            if n_sent >= self.cfg.max_sentences * depth:
                break
            # masks are one word while cutting, so a piece never ends in half of one ("... and this")
            masked = pieces.collapse_self(mask(drop_date_parens(sent), masked_self, _M1))
            for marker, phrase in markers.items():
                masked = mask(masked, groups[phrase], marker)
            masked = _OPENING_ASIDE.sub(_M1, masked.replace('"', "'")).rstrip(".")
            for raw in pieces.pieces(masked, self.cfg.max_clue_words, clauses=windows, short=short):
                checked, shown = raw.replace(_M1, MASK), raw.replace(_M1, MASK)
                for marker, phrase in markers.items():
                    checked, shown = checked.replace(marker, OTHER_MASK), shown.replace(marker, phrase)
                s, shown = (_balance(blur(x.strip(" ,;:'"))) for x in (checked, shown))
                shown = re.sub(r"\b(?:the|an?) (someone|another)\b", r"\1", shown)  # "the [Raoul Walsh]"
                if len([t for t in terms(s) if t != "entity"]) < self.cfg.min_clue_words or not _describes(s):
                    continue
                if any(contains_any(x, names) for x in (s, shown) for names in (forbidden, masked_self, masked_other)):
                    continue
                bad = hygiene.problem(s, self.stats, self.clue_terms(s))
                if bad is None and shown != s:
                    bad = hygiene.problem(shown, self.stats, self.clue_terms(shown))
                if bad is not None:
                    self.hygiene_rejects[bad[0]] += 1
                    continue
                if shown != s:
                    self.with_stand_in.add(shown)
                if shown not in out:
                    out.append(shown)
        return out

    def finds_first(self, query: str, doc_id: str | None) -> bool:
        """Does one search for ``query`` rank ``doc_id`` first? (The shortcut test.)"""
        if self.search is None or not doc_id:
            return False
        top = self.search.search(query, 1)
        return bool(top) and top[0].doc_id == doc_id

    def global_rank(self, clue: str, doc_id: str | None) -> tuple[int | None, list[Any]]:
        if self.search is None or not doc_id:
            return None, []
        hits = self.search.search(clue, self.cfg.unique_k)
        for h in hits:
            if h.doc_id == doc_id:
                return int(h.rank), hits
        return None, hits

    def margin(self, clue: str, target_doc: str, cands: list[tuple[str, str]]) -> tuple[float, str | None]:
        ct = self.clue_terms(clue)
        ft = self.fit(ct, target_doc)
        best, who = 0.0, None
        for did, title in cands:
            if did == target_doc:
                continue
            f = self.fit(ct, did)
            if f > best:
                best, who = f, title
        return ft - best, who

    def hop_clue_options(self, prev: Hop, target: Hop, masked_self: list[str], forbidden: list[str],
                         masked_other: Sequence[str] = (), *, last: bool = False,
                         stand_ins: Mapping[str, str] | None = None, kind: str | None = None,
                         ) -> list[ClueChoice] | ClueFailure:
        """Every usable clue of a hop (margin >= ``hop_margin``), best first: with ``prefer_weak``, the clues
        whose own search does not rank the target 1st come first (largest margin first), then the others.
        Within each group a piece that names another chain entity (by a stand-in) comes after the others.

        For the ``last`` hop (whose page holds the answer) a strong clue is a shortcut to the answer: clause
        tails are tried and three times as many sentences read and clues searched; when none of those is weak,
        the page is read to four times the sentences and six times the clues are searched (deeper lines of a
        long page are often data fields: used only when the prose has no weak clause). (Sorting the weakest
        first was tried: it picks cryptic scraps that pin the hop on paper but that neither the solver nor a
        person reads as a description, and the solve rate fell.)"""
        if not last:
            return self._hop_options(prev, target, masked_self, forbidden, masked_other, stand_ins, 1, 1, False, kind)
        first = self._hop_options(prev, target, masked_self, forbidden, masked_other, stand_ins, 3, 3, True, kind)
        if isinstance(first, list) and (not self.cfg.prefer_weak or first[0].global_rank != 1):
            return first
        deeper = self._hop_options(prev, target, masked_self, forbidden, masked_other, stand_ins, 4, 6, True, kind)
        if isinstance(deeper, list) and deeper[0].global_rank != 1:
            return deeper
        return first if isinstance(first, list) else deeper

    def _hop_options(self, prev: Hop, target: Hop, masked_self: list[str], forbidden: list[str],
                     masked_other: Sequence[str], stand_ins: Mapping[str, str] | None, depth: int, searches: int,
                     last: bool, kind: str | None = None) -> list[ClueChoice] | ClueFailure:
        sents = self.clue_sentences(target, masked_self, forbidden, windows=self.cfg.prefer_weak,
                                    masked_other=masked_other, short=last, stand_ins=stand_ins, depth=depth)
        if not sents:
            return ClueFailure("no_clue_sentence", f"no usable sentence on the page of hop {target.title!r}")
        cands = self.candidates(prev, target, kind)
        scored = []
        for s in sents:
            m, who = self.margin(s, target.doc_id or "", cands)
            scored.append((m, who, s))
        ok = [x for x in scored if x[0] >= self.cfg.hop_margin]
        if not ok:
            m, who, _ = max(scored, key=lambda x: x[0])
            return ClueFailure("hop_ambiguous", f"hop {target.title!r}: best clue margin {m:.2f} < "
                               f"{self.cfg.hop_margin} (fits {who!r} too; {len(cands)} candidates)")
        read = [x for x in ok if self.reader_ok(x[2], target.doc_id or "", cands)]
        if not read:
            r_rank, rm, who = self.reader_rank(ok[0][2], target.doc_id or "", cands)
            return ClueFailure("reader_not_first", f"hop {target.title!r}: the engine's scorer ranks the target "
                               f"{r_rank} among {len(cands)} neighbours (margin {rm:.2f}; {who!r} scores as high) "
                               f"for every clue that passes the IDF margin")
        ok = read
        ok.sort(key=lambda x: -x[0])
        weak: list[ClueChoice] = []
        strong: list[ClueChoice] = []
        for m, who, s in ok[: self.cfg.max_searches * searches]:
            rank = self.global_rank(s, target.doc_id)[0] if self.cfg.prefer_weak else None
            c = ClueChoice(text=s, margin=round(m, 3), runner_up=who, n_candidates=len(cands), global_rank=rank)
            (strong if self.cfg.prefer_weak and rank == 1 else weak).append(c)
        by_name = lambda c: c.text in self.with_stand_in  # noqa: E731  (a stand-in only when nothing else will do)
        return sorted(weak, key=by_name) + sorted(strong, key=by_name)

    def pick_hop_clue(self, prev: Hop, target: Hop, masked_self: list[str], forbidden: list[str],
                      masked_other: Sequence[str] = (), stand_ins: Mapping[str, str] | None = None
                      ) -> ClueChoice | ClueFailure:
        opts = self.hop_clue_options(prev, target, masked_self, forbidden, masked_other, stand_ins=stand_ins)
        return opts if isinstance(opts, ClueFailure) else opts[0]

    def pick_unique_clue(self, target: Hop, masked_self: list[str], forbidden: list[str],
                         masked_other: Sequence[str] = (), stand_ins: Mapping[str, str] | None = None
                         ) -> ClueChoice | ClueFailure:
        """A clue that finds ``target`` in the whole corpus: top hit of its own search, with a fit margin
        (pieces naming another chain entity by a stand-in are tried last)."""
        whole = self.clue_sentences(target, masked_self, forbidden, masked_other=masked_other, stand_ins=stand_ins)
        runs = self.clue_sentences(target, masked_self, forbidden, windows=True, masked_other=masked_other,
                                   stand_ins=stand_ins)  # clause runs, when no whole sentence is unique
        sents = sorted(dict.fromkeys(whole + runs), key=lambda x: x in self.with_stand_in)
        if not sents:
            return ClueFailure("no_clue_sentence", f"no usable sentence on the page of {target.title!r}")
        best_m, best_who = -1.0, None
        for s in sents:
            rank, hits = self.global_rank(s, target.doc_id)
            if self.search is not None and rank != 1:
                continue
            cands = [(h.doc_id, h.title) for h in hits]
            m, who = self.margin(s, target.doc_id or "", cands)
            if m >= self.cfg.unique_margin:
                return ClueChoice(text=s, margin=round(m, 3), runner_up=who, n_candidates=len(cands),
                                  global_rank=rank, kind="unique")
            if m > best_m:
                best_m, best_who = m, who
        return ClueFailure("seed_not_unique", f"no clue of {target.title!r} is unique in the corpus "
                           f"(best margin {max(best_m, 0):.2f}, also fits {best_who!r})")
