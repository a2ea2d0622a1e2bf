"""The LLM-free question writer: every hop pinned by a clue from its own page (see ``clues``).

"What is the capital of the country you reach if you start from the country described as "...", then go to a
country it shares a border with, the one of which we read "...", and finally go to its largest export
partner?" (one question, type words from the pages, phrasings seeded per chain: ``phrasing``). Clues are
blurred pieces of the page (``obfuscate``: dates as decades, numbers rounded), so the context cannot be
string-searched for them. The seed (and any entity reached by a random jump) gets a clue unique in the whole
corpus; every other hop a clue that, among the neighbours of the previous entity, fits only the target (IDF
margin ``hop_margin``) and that the engine's own scorer ranks first (``reader_margin``), or no clue where its
relation has that one target ("... then go to its director"). A jump is never phrased as a relation: with
``jump_mode="restart"`` the question says to set that one aside and start again from a described entity, with
``"cut"`` the question covers only the longest jump-free part of the chain. The answer is an attribute of the
last entity read from its page (capital, government type or national symbol, for World Factbook pages), else
the last entity itself.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Literal

from longtracerl.corpus.stats import MemoryTermStats
from longtracerl.records import Chain, Document, Hop, Usage
from longtracerl.synth.questions.clues import ClueChoice, ClueConfig, ClueContext, ClueFailure
from longtracerl.synth.questions.names import contains_any, name_variants
from longtracerl.synth.questions.phrasing import (
    Phrasing,
    article,
    entry_step,
    move_step,
    page_type,
    question,
    render_clue,
    shows_type,
    stand_in,
)
from longtracerl.synth.questions.validate import Draft

PROMPT_VERSION = "template-v3"
JumpMode = Literal["restart", "cut"]
# (attribute asked, pattern of its value in a World Factbook-style page); the chain id picks where to start
_ATTRIBUTES: list[tuple[str, re.Pattern[str]]] = [
    ("capital", re.compile(r"^Capital: name: ([^;\n(]+)", re.M)),
    ("government type", re.compile(r"^Government type: ([^;\n(]+)", re.M)),
    ("first listed national symbol", re.compile(r"^National symbol\(s\): ([^;,\n(]+)", re.M)),
]
_VERB_PHRASE = re.compile(r"\b(with|to|in|of|by|from|on|at|for|into)$")
# relations named by a noun + preposition read as a verb phrase ("an entity that independence from it" is no English)
_AS_VERB = {"independence from": "gained independence from"}


def relation_phrase(hop: Hop, noun: str = "entity", *, definite: bool = False) -> str:
    """How the move into ``hop`` reads: the relation only, the target named by ``noun`` (its type words); the
    clue that pins the target follows it. ``definite``: the type words pin the target ("the film director its
    page mentions": the only one)."""
    a = f"the {noun}" if definite else f"{article(noun)} {noun}"
    rel = (hop.relation or "").strip().replace("_", " ")
    if not rel or rel == "mentions":
        return f"go to {a} its page mentions"
    if rel.endswith("(inverse)"):  # the edge's target has the relation to the current entity
        base = rel.removesuffix("(inverse)").strip()
        base = _AS_VERB.get(base, base)
        if base.endswith(" of"):  # "dependency of" -> "an entity that is a dependency of it"
            return f"go to {a} that is a {base} it"
        if _VERB_PHRASE.search(base):  # "shares a border with" -> "an entity that shares a border with it"
            return f"go to {a} that {base} it"
        return f"go to {a} whose {base} it is"  # "largest export partner" -> "... whose ... it is"
    rel = _AS_VERB.get(rel, rel)
    if rel.endswith(" of") and len(rel.split()) <= 3 and not rel.split()[0].endswith(("s", "ed")):
        return f"go to the {noun} it is a {rel}"  # "dependency of" -> "the entity it is a dependency of"
    if _VERB_PHRASE.search(rel):  # "shares a border with" -> "an entity it shares a border with"
        return f"go to {a} it {rel}"
    return f"go to its {rel}"  # a noun phrase: "largest export partner", "director"


def shown_kind(hop: Hop, kind: str) -> str | None:
    """``kind`` if the step into ``hop`` shows it ("an American film director its page mentions"; "its
    director" does not): the candidates a reader rules out by it (``ClueContext.candidates``), as
    ``checks.shown_kind`` finds them in the question."""
    return kind if shows_type(relation_phrase(hop, kind), kind) else None


def distinctive_type(ctx: ClueContext, words: str, doc_id: str | None) -> str:
    """``words`` when one search for them does not rank ``doc_id`` first; else the head noun when that does
    not; else "entity"."""
    if words == "entity" or not ctx.finds_first(words, doc_id):
        return words
    head = words.split()[-1]
    return head if head != words and not ctx.finds_first(head, doc_id) else "entity"


def suggest_answer(doc: Document | None, start: int = 0) -> tuple[str, str] | None:
    """A short attribute of an entity read from its page: ``(attribute, value)``, or None."""
    if doc is None:
        return None
    for k in range(len(_ATTRIBUTES)):
        attr, pat = _ATTRIBUTES[(start + k) % len(_ATTRIBUTES)]
        m = pat.search(doc.text)
        value = m.group(1).strip() if m else ""
        if value and len(value.split()) <= 6 and value.lower() != "none":
            return attr, value
    return None


def jump_segment(chain: Chain) -> list[int]:
    """Hop indices of the longest jump-free part of the chain (the first one on ties)."""
    starts = [0] + [i for i, h in enumerate(chain.hops) if i > 0 and h.jumped]
    ends = [*starts[1:], len(chain.hops)]
    best = max(zip(starts, ends, strict=True), key=lambda se: se[1] - se[0])
    return list(range(*best))


class _DictStore:
    def __init__(self, docs: dict[str, Document]) -> None:
        self.docs = docs

    def get(self, doc_id: str) -> Document | None:
        return self.docs.get(doc_id)


class TemplateQuestionWriter:
    """``draft(chain, docs) -> Draft | ClueFailure``.

    ``clues`` brings the graph (the candidates of each hop) and the search engine (corpus IDF, weak and
    unique clues). Without one the writer still masks names and uses page sentences, but cannot check that
    a hop is unique among the neighbours: the pipeline and the ``questions`` CLI always pass one.
    """

    backend = "template"
    model = ""
    prompt_version = PROMPT_VERSION
    deterministic = True

    def __init__(self, clues: ClueContext | None = None, *, jump_mode: JumpMode = "restart",
                 min_cut_hops: int = 2, max_last_tries: int = 6) -> None:
        self.clues = clues
        self.max_last_tries = max_last_tries
        self.jump_mode = jump_mode
        self.min_cut_hops = min_cut_hops

    def _ctx(self, docs: dict[str, Document]) -> ClueContext:
        if self.clues is not None:
            return self.clues
        # no corpus: the chain's own pages are the statistics (a writer without clues cannot check hops anyway)
        return ClueContext(_DictStore(docs), config=ClueConfig(), stats=MemoryTermStats(docs.values()))

    @staticmethod
    def type_words(doc: Document | None, forbidden: list[str]) -> str:
        """The entity's type words from its page, checked like a clue: "entity" when the page gives none or
        when they would name a chain entity or the answer."""
        t = page_type(doc)
        if not t or contains_any(t, forbidden):
            return "entity"
        return t

    async def adraft(self, chain: Chain, docs: dict[str, Document], feedback: str = "",
                     seed: int = 0) -> tuple[Draft | ClueFailure, str, Usage]:
        """The runner's interface (``QuestionWriter``): the draft, no raw text, no LLM usage."""
        return self.draft(chain, docs), "", Usage()

    def draft(self, chain: Chain, docs: dict[str, Document]) -> Draft | ClueFailure:
        ctx = self._ctx(docs)
        idx = list(range(len(chain.hops)))
        has_jump = any(h.jumped for h in chain.hops[1:])
        if has_jump and self.jump_mode == "cut":
            idx = jump_segment(chain)
            if len(idx) - 1 < self.min_cut_hops:
                return ClueFailure("jump_cut_too_short", f"longest jump-free part has {len(idx) - 1} moves "
                                   f"< {self.min_cut_hops}")
        hops = [chain.hops[i] for i in idx]
        last = docs.get(hops[-1].doc_id or "") or ctx.doc(hops[-1].doc_id)
        answer = hops[-1].title
        start = int(hashlib.sha1(chain.chain_id.encode()).hexdigest()[:8], 16)
        if (found := suggest_answer(last, start)) is not None:
            answer = found[1]
        names = {h.entity_id: name_variants(h.title, ctx.aliases(h)) for h in hops}
        all_names = [n for h in hops for n in names[h.entity_id]]
        forbidden_all = [answer] if answer != hops[-1].title else []
        types = [self.type_words(docs.get(h.doc_id or "") or ctx.doc(h.doc_id), all_names + forbidden_all)
                 for h in hops]
        # type words that alone find their page ("1960s Norwegian crime film" in a small world) would let a
        # reader skip the hops before: the head noun instead ("film"), or "entity"
        types = [types[0]] + [distinctive_type(ctx, t, h.doc_id) for t, h in zip(types[1:], hops[1:], strict=True)]
        # another chain entity reads "someone", "another film", ... in a clue, never "another entity"
        stand_ins = {n: stand_in(t) for h, t in zip(hops, types, strict=True) for n in names[h.entity_id]}
        ph = Phrasing.pick(chain.chain_id)
        attr = found[0] if found is not None else None
        clues: list[ClueChoice] = []
        last_options: list[ClueChoice] = []
        for k, hop in enumerate(hops):
            own = names[hop.entity_id]
            others = [n for n in all_names if n not in own]
            forbidden = [answer] if answer != hop.title else []
            first = k == 0
            jumped = not first and hop.jumped
            res: ClueChoice | ClueFailure
            if first or jumped:
                res = ctx.pick_unique_clue(hop, own, forbidden, others, stand_ins)
            else:
                opts = ctx.hop_clue_options(hops[k - 1], hop, own, forbidden, others, last=k == len(hops) - 1,
                                            stand_ins=stand_ins, kind=shown_kind(hop, types[k]))
                res = opts if isinstance(opts, ClueFailure) else opts[0]
                if k == len(hops) - 1 and not isinstance(opts, ClueFailure):
                    last_options = opts
                # a functional relation ("its director") pins the hop by itself: used when no clue can, and
                # for the last hop when every clue would find the answer's page in one search
                # and so do type words no other neighbour shares ("the film director its page mentions")
                if isinstance(res, ClueFailure) or (k == len(hops) - 1 and res.global_rank == 1):
                    pin = ("relation" if ctx.relation_pins(hops[k - 1], hop) else
                           "type" if types[k] != "entity" and ctx.type_pins(hops[k - 1], hop) == types[k] else None)
                    if pin is not None:
                        res = ClueChoice(text="", margin=1.0, n_candidates=len(ctx.candidates(hops[k - 1], hop)),
                                         kind=pin)  # all the neighbours: the pin is checked against them all
                        last_options = []
            if isinstance(res, ClueFailure):
                res.detail = f"hop {idx[k]}: {res.detail}"
                return res
            clues.append(res)

        def render() -> str:
            steps = []
            for k, (hop, c) in enumerate(zip(hops, clues, strict=True)):
                shown = render_clue(c.text) if c.text else ""
                if k == 0 or hop.jumped:
                    steps.append(entry_step(types[k], shown, ph, restart=k > 0))
                else:
                    rel = relation_phrase(hop, types[k], definite=c.kind == "type").removeprefix("go to ")
                    steps.append(move_step(rel, shown, ph, k, last=k == len(hops) - 1))
            return question(steps, attr, types[-1], ph)

        q_text = render()
        # the whole question must not find the answer's page in one search either: try weaker last clues
        for alt in last_options[1:self.max_last_tries]:
            if not ctx.finds_first(q_text, hops[-1].doc_id):
                break
            clues[-1] = alt
            q_text = render()
        if (len(hops) > 1 and clues[-1].text and types[-1] != "entity" and not hops[-1].jumped
                and ctx.finds_first(q_text, hops[-1].doc_id) and ctx.type_pins(hops[-2], hops[-1]) == types[-1]):
            clues[-1] = ClueChoice(text="", margin=1.0, n_candidates=clues[-1].n_candidates, kind="type")
            q_text = render()
        hop_clues = [""] * len(chain.hops)
        for i, c in zip(idx, clues, strict=True):
            hop_clues[i] = render_clue(c.text) if c.text else ""  # as the question shows it
        info: dict[str, Any] = {
            "hops_used": idx,
            "jump_mode": (self.jump_mode if has_jump else "none"),
            "clue_margins": [c.margin for c in clues],
            "clue_runner_up": [c.runner_up for c in clues],
            "clue_candidates": [c.n_candidates for c in clues],
            "clue_global_rank": [c.global_rank for c in clues],
            "clue_kinds": [c.kind for c in clues],
            "checked_candidates": ctx.graph is not None or ctx.search is not None,
            "type_words": types,
        }
        return Draft(question=q_text, answer=answer, gold_entities=[h.title for h in hops],
                     hop_clues=hop_clues, info=info)
