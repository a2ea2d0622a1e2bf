"""Walks that do not all run through the same few pages: repeats found over the whole walk file, re-walked.

Random walks on real link graphs converge on hubs (a much-linked country, a prolific director): many chains
end on the same answer, pass the same middle page, or share their last hops, and a question stage that drops
the repeats loses the walk. Here the walk file, read in chain order once every walk is in, is checked for

- ``duplicate_chain``: the same path as an earlier chain;
- ``repeated_tail``: its last ``same_tail_hops`` entities are an earlier chain's;
- ``answer_repeated`` / ``hub_repeated``: its answer ends ``max_per_answer`` earlier chains already, or a
  middle page is in ``max_per_hub`` of them (the question stage's caps, applied to walks);

and each repeat is walked again from its own seed node, with the pages at their limit and the tails already
walked left out (``Avoid``), in up to ``rounds`` rounds. Within a round re-walks go in chain order, one at a
time for a built-in chooser (each sees what the ones before it took) and in waves of ``ASYNC_WAVE`` for an
async chooser (an LLM: a wave's walks run concurrently and see what earlier waves took; the next round
catches two of a wave meeting). Everything is decided over the whole ordered file with seeds from (run seed, walk, round,
attempt), so any executor and any split of the walk ids gives the same chains. A chain still a duplicate or a
repeated tail after the last round is rejected (it can only give a question already asked); one still over an
answer or hub limit is kept, and the question stage's caps decide on what is left of it.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from longtracerl.graph.walk_repair import backtrack_walk
from longtracerl.graph.walk_space import Avoid, WalkConfig, _hop, _Space, _walk_settings
from longtracerl.graph.walk_step import _FirstSentences, _walk_gen, adrive
from longtracerl.records import Chain, Hop, Rejection

REJECTED_REASONS = ("duplicate_chain", "repeated_tail")
ASYNC_WAVE = 16  # re-walks of an async chooser run this many at once (fixed: the chains must not depend on it)


@dataclass(frozen=True)
class VarietyLimits:
    """When a chain repeats earlier ones (0 turns a limit off) and how hard to look for another walk."""

    max_per_hub: int = 3
    max_per_answer: int = 2
    same_tail_hops: int = 4
    rounds: int = 3
    attempts: int = 4  # re-walks of one chain per round, each from its own seed


@dataclass
class VarietyResult:
    chains: list[Chain]
    rejected: list[Rejection]
    stats: dict[str, Any] = field(default_factory=dict)


def _ids(c: Chain) -> tuple[str, ...]:
    return tuple(h.entity_id for h in c.hops)


def repeats(chains: Sequence[Chain], limits: VarietyLimits) -> dict[str, tuple[str, str]]:
    """``chain_id -> (reason, detail)`` for each chain that repeats earlier ones, reading in the given order;
    the counts include only chains that are not repeats themselves."""
    first: dict[tuple[str, ...], str] = {}
    tails: dict[tuple[str, ...], str] = {}
    answers: Counter[str] = Counter()
    hubs: Counter[str] = Counter()
    k = limits.same_tail_hops
    out: dict[str, tuple[str, str]] = {}
    for c in chains:
        ids = _ids(c)
        tail = ids[-k:] if k and len(ids) > k else None
        middle = list(dict.fromkeys(ids[1:-1]))
        busy = [m for m in middle if limits.max_per_hub and hubs[m] >= limits.max_per_hub]
        if ids in first:
            out[c.chain_id] = ("duplicate_chain", f"same path as {first[ids]}")
            continue
        if tail is not None and tail in tails:
            out[c.chain_id] = ("repeated_tail", f"its last {k} entities are those of {tails[tail]}")
            continue
        first[ids] = c.chain_id  # a chain over a limit stays if no other walk is found: its path and tail count
        if tail is not None:
            tails[tail] = c.chain_id
        if limits.max_per_answer and answers[ids[-1]] >= limits.max_per_answer:
            out[c.chain_id] = ("answer_repeated", f"{limits.max_per_answer} chains already end at {ids[-1]!r}")
        elif busy:
            out[c.chain_id] = ("hub_repeated", f"{limits.max_per_hub} chains already pass through {busy[0]!r}")
        else:
            answers[ids[-1]] += 1
            hubs.update(middle)
    return out


def avoid_for(chains: Sequence[Chain], limits: VarietyLimits, node_of: Any) -> Avoid:
    """What re-walks stay off, from the chains that are kept as they are."""
    answers = Counter(c.hops[-1].entity_id for c in chains)
    hubs = Counter(m for c in chains for m in dict.fromkeys(_ids(c)[1:-1]))
    k = limits.same_tail_hops
    tails = {_ids(c)[-k:] if k and len(c.hops) > k else _ids(c) for c in chains}
    return Avoid(
        middle=frozenset(node_of(e) for e, n in hubs.items() if limits.max_per_hub and n >= limits.max_per_hub),
        last=frozenset(node_of(e) for e, n in answers.items() if limits.max_per_answer and n >= limits.max_per_answer),
        tails=frozenset(tuple(node_of(e) for e in t) for t in tails),
    )


def rewalk_seed(seed: int, i: int, round_: int, attempt: int) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}:{i}:rewalk:{round_}:{attempt}".encode(),
                                          digest_size=8).digest(), "little")


def walk_index(c: Chain) -> int:
    i = c.walk.get("walk_index")
    return int(i) if i is not None else int(c.chain_id.rsplit("-", 1)[-1])


async def _rewalk(sp: _Space, chooser: Any, sentences: _FirstSentences, c: Chain, avoid: Avoid,
                  round_: int, attempts: int) -> tuple[list[Hop], bool] | None:
    """A new walk for chain ``c`` from its own seed node that keeps off ``avoid`` (and whether it is a
    backtracking search's); None if none was found."""
    i = walk_index(c)
    start = sp.g.node_of(c.hops[0].entity_id)
    for a in range(attempts):
        rng = random.Random(rewalk_seed(sp.cfg.seed, i, round_, a))
        hops, _reason = await adrive(_walk_gen(sp, i, sentences, avoid=avoid, rng=rng, start=start), chooser)
        if len(hops) - 1 >= sp.cfg.min_hops:
            return hops, False
        if sp.cfg.backtrack and (found := backtrack_walk(sp, rng, start, avoid=avoid)) is not None:
            nodes, poss = found  # a dead end: a backtracking search off the same pages (uniform, as in walk_repair)
            out = [_hop(sp.g, v, int(sp.rel[q]) if q >= 0 else -1, False) for v, q in zip(nodes, poss, strict=True)]
            out[0].relation = None
            return out, True
    return None


async def adiversify(graph: Any, config: WalkConfig, chooser: Any, chains: Sequence[Chain], limits: VarietyLimits,
                     docstore: Any = None) -> VarietyResult:
    """The walk file's chains (in chain order) with repeats re-walked; rejections for what stays a repeat."""
    sp = _Space(graph, config)
    sentences = _FirstSentences(docstore)
    cur = list(chains)
    stats: dict[str, Any] = {"flagged": {}, "rewalked": 0, "rounds": 0}
    wave = ASYNC_WAVE if hasattr(chooser, "achoose") else 1
    for round_ in range(1, limits.rounds + 1):
        flagged = repeats(cur, limits)
        if not flagged:
            break
        if round_ == 1:
            stats["flagged"] = dict(Counter(r for r, _ in flagged.values()))
        stats["rounds"] = round_
        settled = {c.chain_id: c for c in cur if c.chain_id not in flagged}
        todo = [c for c in cur if c.chain_id in flagged]
        for k in range(0, len(todo), wave):  # each wave keeps off what the chains settled so far use
            avoid = avoid_for(list(settled.values()), limits, graph.node_of)
            found = await asyncio.gather(*(_rewalk(sp, chooser, sentences, c, avoid, round_, limits.attempts)
                                           for c in todo[k:k + wave]))
            for c, f in zip(todo[k:k + wave], found, strict=True):
                if f is None:
                    continue
                hops, backtracked = f
                settings = {**_walk_settings(config, getattr(chooser, "name", "?"), walk_index(c), graph),
                            "rewalked": round_, **({"backtracked": True} if backtracked else {})}
                settled[c.chain_id] = Chain(chain_id=c.chain_id, hops=hops, seed=config.seed, walk=settings)
                stats["rewalked"] += 1
        cur = [settled.get(c.chain_id, c) for c in cur]
    left = repeats(cur, limits)
    rejected = [Rejection(item_id=cid, stage="walk", reason=reason, detail=detail, attempts=limits.rounds)
                for cid, (reason, detail) in left.items() if reason in REJECTED_REASONS]
    gone = {r.item_id for r in rejected}
    stats["left"] = dict(Counter(r for r, _ in left.values()))
    stats["rejected"] = len(rejected)
    return VarietyResult(chains=[c for c in cur if c.chain_id not in gone], rejected=rejected, stats=stats)


def diversify(graph: Any, config: WalkConfig, chooser: Any, chains: Sequence[Chain], limits: VarietyLimits,
              docstore: Any = None) -> VarietyResult:
    """``adiversify`` for a synchronous caller."""
    return asyncio.run(adiversify(graph, config, chooser, chains, limits, docstore))
