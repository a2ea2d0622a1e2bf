"""The report's comparison of distractor strategies (PAPER.md 2c): every strategy assembled for the same
questions at the same L without random fill, and the share of distractors that mention a gold entity.

One row per trajectory (``strategy_row``), summed into macro shares in trajectory order
(``summarize_strategies``) so that any executor gives the same floats (``report_ray`` computes the rows as
Ray tasks).
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from statistics import mean
from typing import Any

from longtracerl.io import iter_records
from longtracerl.pipeline.context import RunContext
from longtracerl.records import Question, Sample, Trajectory

PAPER_SHARES = {"random": 1.35, "one_shot_search": 15.00, "trajectory_random": 42.16, "trajectory_tiered": 50.03}
PAPER_TIER_SHARES = {"tier1": 63.23, "tier2": 41.0}
STRATEGIES = ["random", "one_shot_search", "trajectory_random", "trajectory_tiered"]


def pct(x: float | None) -> float | None:
    """A share as a percentage rounded to 2 places (None stays None: nothing was measured)."""
    return None if x is None else round(100.0 * x, 2)


class Mentions:
    """``mentions_gold_entity`` per (doc, question), each document matched once per question.

    Callers go question by question, so only the current question's answers are kept. Each document's
    normalized text is kept across questions (least recently used beyond ``MAX_TEXTS``): the rubric matcher
    normalizes what it is given, normalizing is idempotent, and a normalized page takes its fast path."""

    MAX_TEXTS = 4096

    def __init__(self, docstore: Any) -> None:
        self.docstore = docstore
        self.cache: dict[str, bool | None] = {}
        self.texts: OrderedDict[str, str | None] = OrderedDict()
        self._qid: str | None = None

    def _text(self, doc_id: str) -> str | None:
        from longtracerl.text import normalize_word

        if doc_id in self.texts:
            self.texts.move_to_end(doc_id)
            return self.texts[doc_id]
        d = self.docstore.get(doc_id)
        t = self.texts[doc_id] = None if d is None else normalize_word(f"{d.title}\n{d.text}")
        if len(self.texts) > self.MAX_TEXTS:
            self.texts.popitem(last=False)
        return t

    def __call__(self, doc_id: str, q: Question) -> bool | None:
        from longtracerl.synth.distractors import mentions_gold_entity

        if q.question_id != self._qid:
            self.cache.clear()
            self._qid = q.question_id
        if doc_id not in self.cache:
            t = self._text(doc_id)
            self.cache[doc_id] = None if t is None else mentions_gold_entity(t, q.gold_entities)
        return self.cache[doc_id]


def shares(docs: Sequence[tuple[str, str]], q: Question, mentions: Mentions) -> dict[str, float | None]:
    """Share of distractors mentioning a gold entity: all distractors and per tier."""
    by: dict[str, list[bool]] = defaultdict(list)
    for doc_id, tier in docs:
        if tier == "gold":
            continue
        m = mentions(doc_id, q)
        if m is None:
            continue
        by["all"].append(m)
        by[tier].append(m)
    return {k: (sum(v) / len(v) if v else None) for k, v in by.items()}


def _macro(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return mean(vals) if vals else None


def strategy_assembler(ctx: RunContext) -> Any:
    """The assembler of the comparison: the build's settings without random fill, sharing the build's
    per-document token counts (the assembly stage's assembler when it ran in this process)."""
    from longtracerl.synth.assembly import Assembler

    asm = ctx.assembler(Assembler)
    cmp = Assembler(ctx.docstore, ctx.tokenizer, ctx.cfg.assembly.model_copy(update={"fill": "none"}),
                    shared=ctx.token_store())
    cmp.token_cache, cmp.missing = asm.token_cache, asm.missing  # counts depend on the tokenizer only
    return cmp


def strategy_row(ctx: RunContext, asm: Any, q: Question, t: Trajectory, mentions: Mentions) -> dict[str, Any]:
    """One question under every strategy: distractors kept and mention shares (all and per tier)."""
    from longtracerl.synth.distractors import distractor_set

    d = ctx.cfg.distractors
    row: dict[str, Any] = {}
    if not isinstance(asm.assemble(q, [], seed=ctx.cfg.seed), Sample):
        return row  # the gold pages alone do not fit L (or are missing): no strategy can assemble this question
    for s in STRATEGIES:
        ds = distractor_set(s, q, t, docstore=ctx.docstore, search=ctx.search, seed=ctx.cfg.seed,
                            remove_answer_docs=d.remove_answer_docs, n=d.one_shot_n)
        res = asm.assemble(q, [(c.doc_id, c.tier) for c in ds.candidates], seed=ctx.cfg.seed, strategy=s)
        if not isinstance(res, Sample):
            continue
        docs = [(c.doc_id, c.tier) for c in res.docs]
        row[s] = {"n": sum(1 for _, tier in docs if tier != "gold"), **shares(docs, q, mentions)}
    return row


def summarize_strategies(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Macro shares per strategy over rows in trajectory order (so any executor gives the same floats)."""
    per: dict[str, dict[str, list[float | None]]] = {s: defaultdict(list) for s in STRATEGIES}
    n_docs: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        for s, v in row.items():
            n_docs[s].append(int(v["n"]))
            for k, x in v.items():
                if k != "n":
                    per[s][k].append(x)
    out: dict[str, Any] = {}
    for s in STRATEGIES:
        out[s] = {"share_pct": pct(_macro(per[s]["all"])), "paper_pct": PAPER_SHARES[s],
                  "questions": len(per[s]["all"]),
                  "mean_distractors": round(mean(n_docs[s]), 1) if n_docs[s] else 0.0}
        for tier in ("tier1", "tier2"):
            if per[s][tier]:
                out[s][f"{tier}_share_pct"] = pct(_macro(per[s][tier]))
    return out


def compare_strategies(ctx: RunContext, questions: Any, mentions: Mentions) -> dict[str, Any]:
    """Assemble every strategy for the same questions (no random fill) and measure the mention share.

    ``questions`` looks a question up by id (``report_stream.QuestionLookup``)."""
    asm = strategy_assembler(ctx)
    rows = (strategy_row(ctx, asm, q, t, mentions) for t in iter_records(ctx.trajectories, Trajectory)
            for q in (questions.get(t.question_id),) if q is not None)
    return summarize_strategies(rows)
