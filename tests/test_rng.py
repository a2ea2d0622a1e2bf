"""One seed helper for the whole package, and the seeds it derives are the ones the build drew before the
helpers were merged: the expected numbers below were computed with the four former copies (sha256 of the
parts joined by ``:``, its first 8 bytes big-endian), so a build stays byte-identical to earlier ones."""

from __future__ import annotations

import random

from longtracerl.eval.runner import row_seed
from longtracerl.pipeline.export import held_out_keys
from longtracerl.records import Question, WriterInfo
from longtracerl.rng import derived_seed, seeded_rng
from longtracerl.synth.agent import ChainGuidedAgent, ClueSolver
from longtracerl.synth.agent.llm_agent import call_seed
from longtracerl.synth.assembly import sample_rng
from longtracerl.synth.distractors import _rng as distractor_rng

Q = Question(question_id="q-1", chain_id="c", question="?", answer="a", gold_entities=["a"], gold_doc_ids=["d"],
             writer=WriterInfo(backend="test"))


def test_derived_seeds_are_unchanged() -> None:
    assert derived_seed(0, "q-1", "shuffle") == 9922421309121899920
    assert derived_seed("solver", 0, "q-1", 1) == 14420605814092209460
    assert derived_seed(0, "q-1", 1, 2, nbytes=4) & 0x7FFFFFFF == 1885126283
    assert seeded_rng(7, "q-1", "random").random() == 0.5376614527499043
    assert seeded_rng(7, "q-1", "random").random() == random.Random(7529933390693787267).random()


def test_every_caller_draws_what_it_drew_before() -> None:
    """Assembly shuffle, distractor strategies, both agents' tie-breaks, LLM call seeds, eval sampling seeds
    and the export's test split: each keyed as before, so each draws the same numbers."""
    assert sample_rng(0, "q-1", "shuffle").random() == 0.2453765869910447
    assert distractor_rng(7, "q-1", "random").random() == 0.5376614527499043
    assert ChainGuidedAgent(None, None, seed=3)._rng(Q, 2).random() == 0.40551196126902256  # type: ignore[arg-type]
    assert ClueSolver(None, seed=0)._rng(Q, 1).random() == 0.5281184563863046  # type: ignore[arg-type]
    assert call_seed(0, "q-1", 1, 2) == 1885126283
    assert row_seed(0, "mrcr-5", 3) == 461623912


def test_the_export_split_orders_chains_as_before() -> None:
    """The test side is the first chains in sha256 order of "seed\\0chain": c4, c2, c5, c1, c3 for seed 0."""
    ids = ["c1", "c2", "c3", "c4", "c5"]
    assert sorted(ids, key=lambda g: derived_seed(0, g, sep="\0", nbytes=32)) == ["c4", "c2", "c5", "c1", "c3"]
    assert held_out_keys(ids, {}, 0.4, seed=0) == {"c4", "c2"}
