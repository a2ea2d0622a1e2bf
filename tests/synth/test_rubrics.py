"""Rubric entities in surface form: disambiguation suffixes dropped, full title and graph aliases kept as
aliases, through the question runner, the assembled sample, the exports and the reward."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from longtracerl.records import Chain, Document, Hop, Question, Usage, WriterInfo
from longtracerl.reward import rubric_score
from longtracerl.synth.questions import Draft, ValidationConfig, write_one
from longtracerl.synth.rubrics import question_rubrics, rubric_entities, surface_form


@pytest.mark.parametrize("title,want", [
    ("Mercury (planet)", "Mercury"),
    ("John Smith (footballer, born 1990)", "John Smith"),
    ("Bank (geography) (disambiguation)", "Bank"),
    ("Paris, Texas", "Paris, Texas"),  # comma-qualified: kept whole (see synth/rubrics.py)
    ("Washington, D.C.", "Washington, D.C."),
    ("(I Can't Get No) Satisfaction", "(I Can't Get No) Satisfaction"),  # leading parentheses are the name
    ("(planet)", "(planet)"),  # nothing would be left
    ("Lyon", "Lyon"),
    ("  Nice (France)  ", "Nice"),
])
def test_surface_form(title: str, want: str) -> None:
    assert surface_form(title) == want


def test_rubric_entities_keep_title_and_graph_aliases() -> None:
    graph = {"Mercury (planet)": ["Planet Mercury", "Mercury (planet)"], "Paris, Texas": ["Paris TX"]}
    rubrics, aliases = rubric_entities(["Mercury (planet)", "Paris, Texas", "Lyon", "Lyon"], graph.get)
    assert rubrics == ["Mercury", "Paris, Texas", "Lyon"]
    assert aliases == {"Mercury": ["Mercury (planet)", "Planet Mercury"], "Paris, Texas": ["Paris TX"]}
    # two gold entities sharing a surface form keep their full titles (no merged, ambiguous rubric)
    assert rubric_entities(["Mercury (planet)", "Mercury (element)"])[0] == ["Mercury (planet)", "Mercury (element)"]


def test_the_rubric_can_now_be_earned_and_aliases_count() -> None:
    rubrics, aliases = rubric_entities(["Mercury (planet)", "Paris, Texas"])
    answer = "<think>...</think>Mercury, as seen from Paris, Texas"
    for mode in ("word", "reference"):
        before = rubric_score(answer, ["Mercury (planet)", "Paris, Texas"], mode=mode)  # type: ignore[arg-type]
        after = rubric_score(answer, rubrics, aliases=aliases, mode=mode)  # type: ignore[arg-type]
        assert before.score == 0.5 and after.score == 1.0, mode
    # an answer that writes the full title still hits through the alias
    full = rubric_score("</think>Mercury (planet)", ["Venus"], aliases={"Venus": ["Mercury (planet)"]},
                        mode="reference")
    assert full.score == 1.0
    # reference mode with no aliases: the released decisions ("art" inside "party")
    assert rubric_score("</think>a party", ["art"], mode="reference").score == 1.0


DOCS = {"a": Document(doc_id="a", title="Aland (island)", text="Aland (island)\nAland is an island kingdom founded "
                      "in 1620 by fishermen from the north."),
        "b": Document(doc_id="b", title="Borvia", text="Borvia\nBorvia is a mountain republic east of Aland.\n"
                      "Government type: parliamentary republic\nCapital: name: Kestrel City; time difference: UTC+2")}


class FixedWriter:
    """A writer returning one fixed draft (any writer's gold entities are page titles)."""

    backend, model, prompt_version = "fixed", "", "v0"

    async def adraft(self, chain: Chain, docs: dict[str, Document], feedback: str = "",
                     seed: int = 0) -> tuple[Draft, str, Usage]:
        q = "Start with an island kingdom founded in 1620. Move to the mountain state it borders. What is its capital?"
        return Draft(question=q, answer="Kestrel City", gold_entities=["Aland (island)", "Borvia"]), "", Usage()


class MemStore:
    def get(self, doc_id: str) -> Document | None:
        return DOCS.get(doc_id)


def test_question_runner_writes_surface_rubrics_and_the_sample_and_exports_carry_them(tmp_path: Path) -> None:
    chain = Chain(chain_id="c1", seed=0, hops=[Hop(entity_id="a", title="Aland (island)", doc_id="a"),
                                               Hop(entity_id="b", title="Borvia", doc_id="b", relation="borders")])
    q, _, _ = asyncio.run(write_one(chain, MemStore(), FixedWriter(), ValidationConfig(),
                                    aliases_of={"Borvia": ["Republic of Borvia"]}.get))
    assert isinstance(q, Question), q
    assert q.gold_entities == ["Aland (island)", "Borvia"]  # the writer's titles, as validated
    assert q.rubrics == ["Aland", "Borvia"]
    assert q.rubric_aliases == {"Aland": ["Aland (island)"], "Borvia": ["Republic of Borvia"]}

    from longtracerl.pipeline.export import slime_row, verl_row, write_hf
    from longtracerl.records import ContextDoc, Sample

    s = Sample(sample_id="s", question_id=q.question_id, messages=[{"role": "user", "content": "x"}],
               label=q.answer, rubrics=q.rubrics, rubric_aliases=q.rubric_aliases, question=q.question,
               docs=[ContextDoc(doc_id="a", tier="gold", n_tokens=1)], n_tokens=1, tokenizer="t")
    info = slime_row(s)["metadata"]["extra_reward_info"]
    assert info["rubrics"] == ["Aland", "Borvia"]  # the released field stays a list of strings
    assert info["rubric_aliases"] == q.rubric_aliases
    assert json.loads(verl_row(s, 0)["extra_info"]["rubric_aliases"]) == q.rubric_aliases
    write_hf([s], tmp_path / "hf")
    from datasets import load_from_disk

    assert json.loads(load_from_disk(str(tmp_path / "hf"))[0]["rubric_aliases"]) == q.rubric_aliases


def test_older_questions_get_surface_rubrics_at_assembly() -> None:
    q = Question(question_id="q", chain_id="c", question="?", answer="x", gold_entities=["Mercury (planet)", "Lyon"],
                 gold_doc_ids=[], writer=WriterInfo(backend="t"))
    assert question_rubrics(q) == (["Mercury", "Lyon"], {"Mercury": ["Mercury (planet)"]})
