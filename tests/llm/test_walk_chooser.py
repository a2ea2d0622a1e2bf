"""The LLM walk chooser: parsing, retries and fallbacks, the REAL bundled model, and walks end to end."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from longtracerl.graph.chooser import AsyncWalkChooser, Candidate
from longtracerl.llm import OpenAIChatLLM, make_llm
from longtracerl.llm.walk_chooser import LLMWalkChooser, parse_choice
from longtracerl.records import Hop

CANDS = [Candidate(entity_id=f"e{i}", title=t, first_sentence=f"{t} is a place.", degree=d)
         for i, (t, d) in enumerate([("Paris", 3), ("Lyon", 9), ("New Paris", 1)])]
PATH = [Hop(entity_id="fr", title="France")]


@pytest.mark.parametrize(("text", "want"), [
    ('{"choice": 2}', 1), ('{"choice": "3"}', 2), ("2", 1), ("I pick number 1.", 0), ("Lyon, clearly", 1),
    ("New Paris", 2), ('{"choice": 7}', None), ("none of them", None), ("9", None),
])
def test_parse_choice(text: str, want: int | None) -> None:
    assert parse_choice(text, CANDS) == want


@pytest.mark.parametrize(("fallback", "want"), [("first", 0), ("degree", 1)])
def test_invalid_replies_retry_then_fallback(fault_llm, fallback: str, want: int) -> None:  # type: ignore[no-untyped-def]
    url, script = fault_llm  # FAKE server: a model that never answers with a candidate
    script.default = ("ok", "I like turtles")
    ch = LLMWalkChooser(OpenAIChatLLM(url, model="fault"), max_retries=2, fallback=fallback)
    assert isinstance(ch, AsyncWalkChooser)
    assert asyncio.run(ch.achoose(PATH, CANDS, random.Random(0))) == want
    assert ch.counters == {"calls": 3, "invalid": 3, "fallbacks": 1, "errors": 0}
    assert "That is not a valid choice" in script.requests[1]["messages"][-1]["content"]


def test_retry_recovers_and_llm_errors_fall_back(fault_llm) -> None:  # type: ignore[no-untyped-def]
    url, script = fault_llm  # FAKE server: an off-format reply, then a valid one; then only 500s
    script.queue = [("ok", "hmm"), ("ok", '{"choice": 3}')]
    ch = LLMWalkChooser(OpenAIChatLLM(url, model="fault", max_retries=0), fallback="uniform")
    assert asyncio.run(ch.achoose(PATH, CANDS, random.Random(0))) == 2
    assert ch.counters == {"calls": 2, "invalid": 1, "fallbacks": 0, "errors": 0}
    script.default = ("status", 500)
    pick = asyncio.run(ch.achoose(PATH, CANDS, random.Random(0)))
    assert pick == random.Random(0).randrange(3) and ch.fallbacks == 1 and ch.errors == 3


def test_a_reasoning_model_is_read_after_its_reasoning(fault_llm) -> None:  # type: ignore[no-untyped-def]
    """SCRIPTED reasoning replies (the bundled model does not reason in tags): the pick is the number after
    ``</think>``, not one named in the reasoning; a reply cut inside its reasoning is invalid and retried; the
    cap leaves room to reason (the old 24-token cap cut every reasoning reply)."""
    url, script = fault_llm
    script.queue = [("ok", "<think>Option 3 is generic and 1 is too famous, so"),  # cut while reasoning
                    ("ok", "<think>Option 3 is generic; 1 is too famous.</think>\n{\"choice\": 2}")]
    ch = LLMWalkChooser(OpenAIChatLLM(url, model="fault", max_retries=0), fallback="first")
    assert asyncio.run(ch.achoose(PATH, CANDS, random.Random(0))) == 1  # "2" after </think>: Lyon
    assert ch.counters == {"calls": 2, "invalid": 1, "fallbacks": 0, "errors": 0}
    assert all(r["max_tokens"] >= 1024 for r in script.requests)


class _Recorder:
    """The REAL bundled model, observed: every reply it gives the chooser is kept (nothing is scripted)."""

    def __init__(self, llm: Any) -> None:
        self.llm, self.replies = llm, []  # type: ignore[var-annotated]
        self.model = getattr(llm, "model", "")

    async def chat(self, messages: Any, **kw: Any) -> Any:
        resp = await self.llm.chat(messages, **kw)
        self.replies.append(resp.content)
        return resp


@pytest.mark.llm
def test_real_model_picks_are_the_ones_used() -> None:
    """The chooser returns the model's own pick when it is valid, not a fallback: no call fell back, and every
    returned index is the one parsed from the model's reply to that very call (the bundled model answers
    ``{"choice": 1}`` under the enum schema; the ``degree`` fallback would have returned Lyon, index 1)."""
    rec = _Recorder(make_llm("local"))
    ch = LLMWalkChooser(rec, fallback="degree")  # type: ignore[arg-type]
    picks = [asyncio.run(ch.achoose(PATH, CANDS, random.Random(i))) for i in range(2)]
    assert len(rec.replies) == ch.calls == 2 and ch.invalid == ch.fallbacks == ch.errors == 0, rec.replies
    assert picks == [parse_choice(r, CANDS) for r in rec.replies]


@pytest.mark.llm
@pytest.mark.slow  # ~5-20 s: 4 real LLM picks, more under load
def test_awalk_with_llm_chooser_on_sample_graph() -> None:
    from longtracerl.corpus.docstore import DocStore
    from longtracerl.corpus.sample_world import ensure_sample_world
    from longtracerl.graph.sample import load_sample_graph
    from longtracerl.graph.walk import WalkConfig, awalk

    world = ensure_sample_world()
    ch = LLMWalkChooser(make_llm("local"), max_retries=1)
    cfg = WalkConfig(n_walks=2, min_hops=2, max_hops=2, jump_prob=0.0)
    res = asyncio.run(awalk(load_sample_graph(), cfg, ch, DocStore.open(world.docstore_dir), concurrency=2))
    assert len(res.chains) + len(res.rejected) == 2 and res.chains
    for c in res.chains:
        assert len(c.hops) == 3 and c.walk["chooser"] == ch.name
    assert ch.calls >= 2 * len(res.chains) - ch.fallbacks
