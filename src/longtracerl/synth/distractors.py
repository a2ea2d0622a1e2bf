"""Tiered distractors (PAPER.md 2c) and the paper's comparison strategies.

Tier-1 = documents the agent opened but did not cite (it judged them relevant enough to read: high
confusability); Tier-2 = documents that appeared in search results but were never opened. The paper
does not say what is removed; we remove, from every tier and strategy, with the reason recorded:

- ``gold``: a gold page of the path;
- ``gold_title``: another document with the title of a gold page (a copy or a section of it);
- ``cited``: a non-gold page the agent cited (it relied on it, so it is not a distractor);
- ``duplicate``: the same text as a document kept earlier (same id twice is simply skipped);
- ``answer`` (configurable, default on): the text or title contains the answer or one of its aliases
  (normalized, whole tokens), so a distractor never answers the question by itself. Answers that are
  ``yes``/``no``/``true``/``false`` are not searched for: every page would match;
- ``missing``: the id is no longer in the store.

Candidate lists keep first-seen order; their order is the FILL ORDER the assembler must follow (it
shuffles the final context itself). Tier labels per strategy:

| strategy | order | labels |
|---|---|---|
| ``trajectory_tiered`` (default) | Tier-1 then Tier-2, first-seen | ``tier1`` / ``tier2`` |
| ``trajectory_random`` | all trajectory documents, shuffled (seeded) | their true ``tier1`` / ``tier2`` (for statistics only) |
| ``one_shot_search`` | top-N of one ``search(question, N)`` | ``tier2`` (seen in results, never opened) |
| ``random`` | uniform sample of the store (seeded) | ``fill`` |
"""

from __future__ import annotations

import hashlib
import random
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, Field

from longtracerl.records import Document, Question, Tier, Trajectory
from longtracerl.rng import seeded_rng
from longtracerl.text import normalize_word

TRIVIAL_ANSWERS = frozenset({"yes", "no", "true", "false"})


class DocLookup(Protocol):
    """What tiering needs from a DocStore or a SearchBackend: fetch by id."""

    def get(self, doc_id: str) -> Document | None: ...


class Tiers(BaseModel):
    gold: list[str]
    tier1: list[str] = Field(default_factory=list)
    tier2: list[str] = Field(default_factory=list)
    removed: dict[str, list[str]] = Field(default_factory=dict)


class DistractorCandidate(BaseModel):
    doc_id: str
    tier: Tier  # "tier1" | "tier2" | "fill"


class DistractorSet(BaseModel):
    """A strategy's output: gold pages, distractor candidates in fill order, and what was removed."""

    strategy: str
    gold: list[str]
    candidates: list[DistractorCandidate] = Field(default_factory=list)
    removed: dict[str, list[str]] = Field(default_factory=dict)

    def ids(self, tier: str | None = None) -> list[str]:
        return [c.doc_id for c in self.candidates if tier is None or c.tier == tier]


# ---------------------------------------------------------------- matching helpers


def _norm(text: str) -> str:
    return normalize_word(text)


def answer_patterns(answer: str, aliases: Iterable[str] = ()) -> list[str]:
    """Normalized answer strings worth searching for (trivial yes/no answers are skipped)."""
    out: dict[str, None] = {}
    for a in [answer, *aliases]:
        n = _norm(a or "")
        if n and n not in TRIVIAL_ANSWERS:
            out.setdefault(n, None)
    return list(out)


def contains_answer(text: str, answer: str, aliases: Iterable[str] = ()) -> bool:
    """Whether ``text`` holds the answer or an alias as whole tokens, after normalization."""
    pats = answer_patterns(answer, aliases)
    if not pats:
        return False
    hay = f" {_norm(text)} "
    return any(f" {p} " in hay for p in pats)


def mentions_gold_entity(doc_text: str, gold_entities: Sequence[str]) -> bool:
    """Whether a document names at least one gold rubric entity (whole-token match, accents folded).

    The paper's distractor statistic ("share of distractor documents that mention at least one gold
    rubric entity") is the mean of this over a sample's distractors. Uses the rubric reward's own
    ``word`` matcher, so "mentions" means exactly what the rubric reward would count.
    """
    ents = [e for e in gold_entities if _norm(e)]
    if not ents or not doc_text:
        return False
    from longtracerl.reward.rubric import rubric_score

    return bool(rubric_score(doc_text, ents, mode="word").matched)


def mention_share(doc_texts: Sequence[str], gold_entities: Sequence[str]) -> float | None:
    """Share of documents mentioning a gold entity; None for an empty list (not 0: nothing to measure)."""
    if not doc_texts:
        return None
    return sum(mentions_gold_entity(t, gold_entities) for t in doc_texts) / len(doc_texts)


# ---------------------------------------------------------------- filtering


class _Filter:
    """Applies the removal rules in order, remembering kept texts to detect duplicates."""

    def __init__(
        self, question: Question, docstore: DocLookup, *, remove_answer_docs: bool, cited: Iterable[str] = ()
    ) -> None:
        self.docstore = docstore
        self.gold = list(dict.fromkeys(question.gold_doc_ids))
        self.gold_set = set(self.gold)
        self.cited = set(cited) - self.gold_set
        self.patterns = (
            answer_patterns(question.answer, question.answer_aliases) if remove_answer_docs else []
        )
        self.removed: dict[str, list[str]] = {}
        self.seen: set[str] = set()
        self.gold_titles: set[str] = set()
        self.texts: set[str] = set()
        for g in self.gold:
            d = docstore.get(g)
            if d is not None:
                self.gold_titles.add(d.title.casefold().strip())
                self.texts.add(_facts(docstore, d).digest)

    def _drop(self, reason: str, doc_id: str) -> bool:
        self.removed.setdefault(reason, []).append(doc_id)
        return False

    def keep(self, doc_id: str) -> bool:
        if doc_id in self.seen:
            return False  # the same id twice: not a removal, just one document
        self.seen.add(doc_id)
        if doc_id in self.gold_set:
            return self._drop("gold", doc_id)
        if doc_id in self.cited:
            return self._drop("cited", doc_id)
        doc = self.docstore.get(doc_id)
        if doc is None:
            return self._drop("missing", doc_id)
        if doc.title.casefold().strip() in self.gold_titles:
            return self._drop("gold_title", doc_id)
        facts = _facts(self.docstore, doc)
        if facts.digest in self.texts:
            return self._drop("duplicate", doc_id)
        if self.patterns:
            hay = facts.normalized
            if any(f" {p} " in hay for p in self.patterns):
                return self._drop("answer", doc_id)
        self.texts.add(facts.digest)
        return True


def _digest(text: str) -> str:
    return hashlib.sha1(" ".join(text.split()).encode()).hexdigest()


class _DocFacts:
    """What the filter computes from a document whatever the question: the digest of its text and (on first
    use) its normalized title and text. Normalizing a 40K-character page is the costly part of choosing
    distractors, and the same pages come back for every question and every strategy compared."""

    __slots__ = ("doc", "digest", "_normalized")

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.digest = _digest(doc.text)
        self._normalized: str | None = None

    @property
    def normalized(self) -> str:
        if self._normalized is None:
            self._normalized = f" {_norm(self.doc.title)} {_norm(self.doc.text)} "
        return self._normalized


_FACTS_MAX = 4096  # documents remembered per store (least recently used go first)
_FACTS: weakref.WeakKeyDictionary[Any, OrderedDict[str, _DocFacts]] = weakref.WeakKeyDictionary()


def _facts(store: Any, doc: Document) -> _DocFacts:
    """The document's facts, remembered per store (a store's documents do not change during a run)."""
    try:
        cache = _FACTS.setdefault(store, OrderedDict())
    except TypeError:  # not weak-referenceable: nothing remembered
        return _DocFacts(doc)
    f = cache.get(doc.doc_id)
    if f is None or f.doc.text is not doc.text and f.doc.text != doc.text:
        f = cache[doc.doc_id] = _DocFacts(doc)
        if len(cache) > _FACTS_MAX:
            cache.popitem(last=False)
    else:
        cache.move_to_end(doc.doc_id)
    return f


# ---------------------------------------------------------------- tiers


def build_tiers(
    question: Question, trajectory: Trajectory, *, docstore: DocLookup, remove_answer_docs: bool = True
) -> Tiers:
    """Gold, Tier-1 (opened, not cited) and Tier-2 (in results, never opened), cleaned and in first-seen order."""
    f = _Filter(question, docstore, remove_answer_docs=remove_answer_docs, cited=trajectory.cited_doc_ids)
    opened = trajectory.opened_doc_ids
    opened_set = set(opened)
    cited = set(trajectory.cited_doc_ids)
    tier1 = [d for d in opened if d not in cited and f.keep(d)]
    for d in opened:
        if d in cited and d not in f.seen:  # opened and cited: neither tier (gold or "cited" above)
            f.keep(d)
    tier2 = [d for d in trajectory.result_doc_ids if d not in opened_set and f.keep(d)]
    return Tiers(gold=f.gold, tier1=tier1, tier2=tier2, removed=f.removed)


# ---------------------------------------------------------------- strategies


def _rng(seed: int, question_id: str, name: str) -> random.Random:
    return seeded_rng(seed, question_id, name)


def trajectory_tiered(
    question: Question,
    trajectory: Trajectory | None,
    *,
    docstore: DocLookup,
    remove_answer_docs: bool = True,
    **_: Any,
) -> DistractorSet:
    """The paper's default: all Tier-1, then Tier-2, each in first-seen order."""
    t = build_tiers(
        question,
        _need(trajectory, "trajectory_tiered"),
        docstore=docstore,
        remove_answer_docs=remove_answer_docs,
    )
    cands = [DistractorCandidate(doc_id=d, tier="tier1") for d in t.tier1]
    cands += [DistractorCandidate(doc_id=d, tier="tier2") for d in t.tier2]
    return DistractorSet(strategy="trajectory_tiered", gold=t.gold, candidates=cands, removed=t.removed)


def trajectory_random(
    question: Question,
    trajectory: Trajectory | None,
    *,
    docstore: DocLookup,
    remove_answer_docs: bool = True,
    seed: int = 0,
    **_: Any,
) -> DistractorSet:
    """The same documents as the tiered strategy, in a seeded random order (tiers kept as labels only)."""
    ds = trajectory_tiered(question, trajectory, docstore=docstore, remove_answer_docs=remove_answer_docs)
    cands = list(ds.candidates)
    _rng(seed, question.question_id, "trajectory_random").shuffle(cands)
    return DistractorSet(strategy="trajectory_random", gold=ds.gold, candidates=cands, removed=ds.removed)


def one_shot_search(
    question: Question,
    trajectory: Trajectory | None = None,
    *,
    docstore: DocLookup,
    search: Any = None,
    remove_answer_docs: bool = True,
    n: int = 100,
    **_: Any,
) -> DistractorSet:
    """Top-``n`` results of a single search on the question text (no agent)."""
    if search is None:
        raise ValueError("distractor strategy 'one_shot_search' needs a search backend (search=...)")
    f = _Filter(question, docstore, remove_answer_docs=remove_answer_docs)
    hits = search.search(question.question, n)
    cands = [DistractorCandidate(doc_id=h.doc_id, tier="tier2") for h in hits if f.keep(h.doc_id)]
    return DistractorSet(strategy="one_shot_search", gold=f.gold, candidates=cands, removed=f.removed)


def _all_ids(docstore: Any) -> list[str]:
    for attr in ("ids", "doc_ids", "iter_ids"):
        fn = getattr(docstore, attr, None)
        if fn is not None:
            return [str(x) for x in (fn() if callable(fn) else fn)]
    for attr in ("iter_docs", "__iter__"):
        fn = getattr(docstore, attr, None)
        if fn is not None:
            return [x if isinstance(x, str) else x.doc_id for x in fn()]
    raise TypeError(
        f"{type(docstore).__name__} cannot list its document ids (needed by the 'random' strategy)"
    )


_IDS_CACHE: weakref.WeakKeyDictionary[Any, list[str]] = weakref.WeakKeyDictionary()


def _cached_ids(docstore: Any) -> list[str]:
    """Listing a large store is slow: do it once per store object."""
    try:
        return _IDS_CACHE[docstore]
    except KeyError:
        ids = _IDS_CACHE[docstore] = _all_ids(docstore)
        return ids
    except TypeError:  # not weak-referenceable
        return _all_ids(docstore)


def random_docs(
    question: Question,
    trajectory: Trajectory | None = None,
    *,
    docstore: DocLookup,
    remove_answer_docs: bool = True,
    n: int = 100,
    seed: int = 0,
    all_ids: Sequence[str] | None = None,
    **_: Any,
) -> DistractorSet:
    """``n`` documents drawn uniformly from the store (seeded per question), cleaned like the others."""
    if all_ids is None:
        all_ids = _cached_ids(docstore)
    f = _Filter(question, docstore, remove_answer_docs=remove_answer_docs)
    rng = _rng(seed, question.question_id, "random")
    # draw more than needed: some get removed; never more than the store holds
    # sample positions, not a copy of the id list: stores hold millions of ids
    pool = rng.sample(range(len(all_ids)), min(len(all_ids), n + len(f.gold) + 16))
    cands: list[DistractorCandidate] = []
    for i in pool:
        if len(cands) >= n:
            break
        if f.keep(all_ids[i]):
            cands.append(DistractorCandidate(doc_id=all_ids[i], tier="fill"))
    return DistractorSet(strategy="random", gold=f.gold, candidates=cands, removed=f.removed)


def _need(trajectory: Trajectory | None, name: str) -> Trajectory:
    if trajectory is None:
        raise ValueError(f"distractor strategy {name!r} needs the question's agent trajectory")
    return trajectory


DistractorStrategy = Callable[..., DistractorSet]

DISTRACTOR_STRATEGIES: dict[str, DistractorStrategy] = {
    "trajectory_tiered": trajectory_tiered,
    "trajectory_random": trajectory_random,
    "one_shot_search": one_shot_search,
    "random": random_docs,
}


def get_distractor_strategy(name: str) -> DistractorStrategy:
    """A strategy by name; call it as ``strategy(question, trajectory, docstore=..., search=..., seed=..., n=...)``."""
    try:
        return DISTRACTOR_STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"unknown distractor strategy {name!r}; known: {', '.join(DISTRACTOR_STRATEGIES)}"
        ) from None


def distractor_set(
    strategy: str,
    question: Question,
    trajectory: Trajectory | None,
    *,
    docstore: DocLookup,
    search: Any = None,
    seed: int = 0,
    remove_answer_docs: bool = True,
    n: int = 100,
) -> DistractorSet:
    """The named strategy's distractors for one question: what ``build`` assembles and its report compares."""
    return get_distractor_strategy(strategy)(question, trajectory, docstore=docstore, search=search, seed=seed,
                                             remove_answer_docs=remove_answer_docs, n=n)


def fill_provider(docstore: DocLookup, *, n: int = 200, seed: int = 0,
                  remove_answer_docs: bool = True) -> Callable[[Question], list[str]]:
    """``question -> doc ids`` of random padding for the assembler, cleaned like every distractor."""

    def fill(question: Question) -> list[str]:
        return random_docs(question, None, docstore=docstore, n=n, seed=seed,
                           remove_answer_docs=remove_answer_docs).ids()

    return fill
