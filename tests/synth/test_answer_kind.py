"""The ``concept_answer`` check: a question does not end on a generic concept page, and answers are typed."""

from __future__ import annotations

import asyncio
import json

from longtracerl.llm import OpenAIChatLLM
from longtracerl.records import Chain, Document, Hop, Question, Rejection
from longtracerl.synth.questions import Draft, LLMQuestionWriter, ValidationConfig, write_one
from longtracerl.synth.questions.checks import answer_kind

DOCS = {d.doc_id: d for d in [
    Document(doc_id="a", title="Aland", text="Aland is an island kingdom founded in 1620. Its astronomers "
             "catalogued the Galaxy of Andromeda."),
    Document(doc_id="g", title="Galaxy", text="A galaxy is a system of stars, gas and dark matter. The Milky Way "
             "is the galaxy that contains the Solar System; a galaxy may hold billions of stars."),
    Document(doc_id="k", title="Kestrel City", text="Kestrel City is the capital of Aland, founded in 1621. "
             "Kestrel City lies on the coast."),
]}
TO_GALAXY = Chain(chain_id="c-g", seed=0, hops=[Hop(entity_id="a", title="Aland", doc_id="a"),
                                                 Hop(entity_id="g", title="Galaxy", doc_id="g", relation="mentions")])
TO_CITY = Chain(chain_id="c-k", seed=0, hops=[Hop(entity_id="a", title="Aland", doc_id="a"),
                                               Hop(entity_id="k", title="Kestrel City", doc_id="k", relation="capital")])
Q = "Start with an island kingdom founded in 1620 whose astronomers looked far. What did they catalogue there?"


def test_answer_kinds() -> None:
    assert answer_kind(Draft(question=Q, answer="galaxy"), TO_GALAXY, DOCS) == "concept"
    assert answer_kind(Draft(question=Q, answer="Kestrel City"), TO_CITY, DOCS) == "named_entity"
    assert answer_kind(Draft(question=Q, answer="1621"), TO_CITY, DOCS) == "attribute"
    assert answer_kind(Draft(question=Q, answer="billions"), TO_GALAXY, DOCS) == "attribute"  # a fact, not the page


class MemStore:
    def get(self, doc_id: str) -> Document | None:
        return DOCS.get(doc_id)


def test_writer_ending_on_a_concept_is_rejected_by_name(fault_llm) -> None:  # type: ignore[no-untyped-def]
    """FAKE server: the bundled model cannot be made to answer with the concept page's title on cue, so the
    writer's replies are scripted; the check, the runner and the records are real."""
    url, script = fault_llm
    reply = json.dumps({"question": Q, "answer": "Galaxy", "gold_entities": ["Aland", "Galaxy"]})
    script.default = ("ok", reply)
    writer = LLMQuestionWriter(OpenAIChatLLM(url, model="fault", backoff=0.01))
    rej, calls, _ = asyncio.run(write_one(TO_GALAXY, MemStore(), writer, ValidationConfig(), max_attempts=2))
    assert isinstance(rej, Rejection) and rej.reason == "concept_answer" and calls == 2
    assert "concept_answer" in script.requests[1]["messages"][0]["content"]  # the reason is fed back
    good = json.dumps({"question": "Start with an island kingdom founded in 1620. Which city is its capital?",
                       "answer": "Kestrel City", "gold_entities": ["Aland", "Kestrel City"]})
    script.default = ("ok", good)
    q, _, _ = asyncio.run(write_one(TO_CITY, MemStore(), writer, ValidationConfig(), max_attempts=1))
    assert isinstance(q, Question) and q.validation["answer_kind"] == "named_entity"
