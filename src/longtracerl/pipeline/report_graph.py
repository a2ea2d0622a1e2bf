"""The build report's "names, not words" section: is the world linked by names, and are the answers names?

Kept apart from ``report.py`` (one small function each for the figures and the markdown) so the two evolve
separately. Figures: the graph's mention quality (``graph.stats.mention_stats``: edges into common-word
titles, the most-linked targets, edges each mention rule dropped) and the kept questions by answer kind
(``named_entity``, ``concept``, ``attribute``; concept answers are rejected as ``concept_answer``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from longtracerl.io import iter_records
from longtracerl.pipeline.context import RunContext
from longtracerl.records import Question

ANSWER_KINDS = ("named_entity", "concept", "attribute")


def graph_answer_section(ctx: RunContext, rejected: dict[str, dict[str, int]]) -> dict[str, Any]:
    """Mention quality of the run's graph and the answers by kind (streams questions.jsonl once)."""
    from longtracerl.graph.stats import mention_stats

    kinds: Counter[str] = Counter()
    if ctx.questions.exists():
        for q in iter_records(ctx.questions, Question):
            kinds[str(q.validation.get("answer_kind", "unknown"))] += 1
    by_kind = {k: kinds.get(k, 0) for k in ANSWER_KINDS}
    if kinds.get("unknown"):
        by_kind["unknown"] = kinds["unknown"]  # questions written before answer kinds were recorded
    return {"graph": mention_stats(ctx.graph), "answers_by_kind": by_kind,
            "concept_answers_rejected": rejected.get("questions", {}).get("concept_answer", 0)}


def graph_answer_md(sec: dict[str, Any] | None) -> list[str]:
    """Markdown lines of the section (none when it was not computed)."""
    if not sec:
        return []
    m = sec["graph"]
    kinds = ", ".join(f"{k} {v}" for k, v in sec["answers_by_kind"].items())
    linked = ", ".join(f"{t} ({d})" for t, d in m["most_linked"])
    words = ", ".join(f"{t} ({d})" for t, d in m["common_word_examples"]) or "none"
    dropped = ", ".join(f"{k} {v:,}" for k, v in m["mention_edges_dropped"].items())
    return ["", "## Names, not words", "",
            f"Kept questions by answer kind: {kinds}; {sec['concept_answers_rejected']} rejected for ending on a "
            "generic concept page (`concept_answer`).", "",
            f"Graph: {m['mention_edges']:,} mention edges; {m['common_word_titles']:,} common-word titles "
            f"({words}) with {m['edges_into_common_word_titles']:,} in-edges, of which "
            f"{m['mention_edges_into_common_word_titles']:,} mentions "
            f"({m['mention_share_into_common_word_titles']:.1%} of mention edges, never walked). "
            f"Mention edges dropped: {dropped}.", "", f"Most-linked targets: {linked}.", ""]
