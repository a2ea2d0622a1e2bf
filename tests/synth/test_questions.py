"""Question synthesis: validators, the template writer on the sample world, LLM writers (real bundled model,
and the FAKE fault server for errors the real model cannot produce), resume and the CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from longtracerl.io import read_records
from longtracerl.llm import OpenAIChatLLM, make_llm
from longtracerl.records import Chain, Document, Hop, Question, Rejection
from longtracerl.synth.questions import (
    Draft,
    LLMQuestionWriter,
    TemplateQuestionWriter,
    ValidationConfig,
    parse_draft,
    validate,
    write_one,
    write_questions,
)


class MemStore:
    """A tiny in-memory stand-in exposing the one DocStore method the writers use."""

    def __init__(self, docs: list[Document]) -> None:
        self.docs = {d.doc_id: d for d in docs}

    def get(self, doc_id: str) -> Document | None:
        return self.docs.get(doc_id)


DOCS = [
    Document(doc_id="a", title="Aland", text="Aland\nAland is an island kingdom founded in 1620 by fishermen from the north."),
    Document(doc_id="b", title="Borvia", text="Borvia\nBorvia is a mountain republic east of Aland.\n"
             "Government type: parliamentary republic\nCapital: name: Kestrel City; time difference: UTC+2"),
]
CHAIN = Chain(chain_id="c1", seed=0, hops=[Hop(entity_id="a", title="Aland", doc_id="a"),
                                           Hop(entity_id="b", title="Borvia", doc_id="b", relation="shares a border with")])
DMAP = {d.doc_id: d for d in DOCS}
CFG = ValidationConfig()
GOOD_Q = "Start with an island kingdom founded in 1620. Move to the mountain state it borders. What is its capital?"


def reasons(d: Draft) -> list[str]:
    return [r for r, _ in validate(d, CHAIN, DMAP, CFG)]


def test_validators_each_reason() -> None:
    assert reasons(Draft(question=GOOD_Q, answer="Kestrel City", gold_entities=["Aland", "Borvia"])) == []
    assert reasons(Draft(question=GOOD_Q, answer="", gold_entities=["Aland"])) == ["missing_fields"]
    assert "question_too_short" in reasons(Draft(question="...", answer="Kestrel City", gold_entities=["Aland", "Borvia"]))
    assert "answer_too_long" in reasons(Draft(question=GOOD_Q, answer="a b c d e f g h i", gold_entities=["Aland"]))
    assert "answer_not_in_last_document" in reasons(Draft(question=GOOD_Q, answer="Paris", gold_entities=["Aland"]))
    # token boundary: "Kestrel" is in the page, "Kest" is not a word of it
    assert "answer_not_in_last_document" in reasons(Draft(question=GOOD_Q, answer="Kest", gold_entities=["Aland"]))
    leak = Draft(question=GOOD_Q.replace("an island kingdom", "Aland"), answer="Kestrel City", gold_entities=["Aland"])
    assert "entity_name_in_question" in reasons(leak)
    ans = Draft(question=GOOD_Q + " Hint: kestrel city.", answer="Kestrel City", gold_entities=["Aland", "Borvia"])
    assert reasons(ans) == ["answer_in_question"]
    assert "gold_entity_not_in_chain" in reasons(Draft(question=GOOD_Q, answer="Kestrel City", gold_entities=["Aland", "Mars"]))
    assert reasons(Draft(question=GOOD_Q, answer="Kestrel City", gold_entities=["Aland"])) == []  # 1 of 2 >= 50 %
    strict = ValidationConfig(min_hop_coverage=1.0)
    assert [r for r, _ in validate(Draft(question=GOOD_Q, answer="Kestrel City", gold_entities=["Aland"]), CHAIN, DMAP,
                                   strict)] == ["too_few_hops_covered"]


def test_parse_draft_lenient() -> None:
    d = parse_draft('Sure! {"question": "q?", "answer": "x", "gold_entities": "Aland"} done')
    assert d is not None and d.gold_entities == ["Aland"]
    assert parse_draft("no json here") is None
    assert parse_draft('{"question": "q?", "answer": "x", "gold_') is None  # truncated


def test_template_writer_and_missing_document(tmp_path: Path) -> None:
    res, calls, _ = asyncio.run(write_one(CHAIN, MemStore(DOCS), TemplateQuestionWriter(), CFG))
    assert isinstance(res, Question) and calls == 0
    assert res.answer in ("Kestrel City", "parliamentary republic") and res.gold_doc_ids == ["a", "b"]
    assert "Aland" not in res.question and "Borvia" not in res.question and "if you start from" in res.question.lower()
    # type words from the pages: Aland's first sentence, Borvia's Factbook-style "Government type:" line
    assert res.validation["type_words"] == ["island kingdom", "country"] and "island kingdom" in res.question
    assert res.writer.backend == "template" and res.question_id == "q-c1"
    broken = CHAIN.model_copy(update={"chain_id": "c2", "hops": [*CHAIN.hops, Hop(entity_id="z", title="Zed", doc_id="zz")]})
    rej, _, _ = asyncio.run(write_one(broken, MemStore(DOCS), TemplateQuestionWriter(), CFG))
    assert isinstance(rej, Rejection) and rej.reason == "missing_document" and "zz" in rej.detail


def test_llm_errors_never_crash(fault_llm, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, script = fault_llm  # FAKE server: 500s and garbage bodies, which the real model cannot produce
    script.default = ("status", 500)
    writer = LLMQuestionWriter(OpenAIChatLLM(url, model="fault", max_retries=1, backoff=0.01))
    out, rej = tmp_path / "q.jsonl", tmp_path / "r.jsonl"
    stats = asyncio.run(write_questions([CHAIN], MemStore(DOCS), writer, out, rej, progress=False))
    assert stats.accepted == 0 and stats.reasons == {"llm_error": 1} and stats.llm_calls == 3
    (r,) = read_records(rej, Rejection)
    assert r.reason == "llm_error" and "http 500" in r.detail and r.attempts == 3


def test_llm_retry_feeds_reason_back_then_accepts(fault_llm) -> None:  # type: ignore[no-untyped-def]
    url, script = fault_llm  # FAKE server scripted with one off-format reply, one leaking reply, one good one
    leak = json.dumps({"question": GOOD_Q.replace("an island kingdom", "Aland"), "answer": "Kestrel City",
                       "gold_entities": ["Aland", "Borvia"]})
    good = json.dumps({"question": GOOD_Q, "answer": "Kestrel City", "gold_entities": ["Aland", "Borvia"]})
    script.queue = [("ok", "I cannot do JSON"), ("ok", leak), ("ok", good)]
    writer = LLMQuestionWriter(OpenAIChatLLM(url, model="fault", backoff=0.01))
    res, calls, usage = asyncio.run(write_one(CHAIN, MemStore(DOCS), writer, CFG))
    assert isinstance(res, Question) and res.attempts == 3 and calls == 3 and usage.calls == 3
    assert res.writer.prompt_version == "v2" and res.answer == "Kestrel City"
    prompts = [r["messages"][0]["content"] for r in script.requests]
    assert "not the requested JSON" in prompts[1] and "entity_name_in_question" in prompts[2]
    assert "Kestrel" not in prompts[0].split("The pages")[0]  # the path part names no answer


@pytest.mark.llm
def test_bundled_model_writes_or_rejects_with_reason(tmp_path: Path) -> None:
    writer = LLMQuestionWriter(make_llm("local"), max_tokens=96)
    out, rej = tmp_path / "q.jsonl", tmp_path / "r.jsonl"
    stats = asyncio.run(write_questions([CHAIN], MemStore(DOCS), writer, out, rej, max_attempts=2, progress=False))
    assert stats.accepted + stats.rejected == 1 and 1 <= stats.llm_calls <= 2 and stats.usage.completion_tokens > 0
    for q in read_records(out, Question) if out.exists() else []:
        assert q.writer.model and validate(Draft(question=q.question, answer=q.answer, gold_entities=q.gold_entities),
                                           CHAIN, DMAP, CFG) == []
    for r in read_records(rej, Rejection) if rej.exists() else []:
        assert r.reason and r.stage == "questions"


def _sample_chains(n: int) -> list[Chain]:
    from longtracerl.graph.sample import load_sample_graph
    from longtracerl.graph.walk import WalkConfig, walk

    return walk(load_sample_graph(), WalkConfig(n_walks=n, min_hops=2, max_hops=3)).chains


def test_template_on_sample_world_resumes_and_is_canonical(tmp_path: Path) -> None:
    from longtracerl.corpus.docstore import DocStore
    from longtracerl.corpus.sample_world import ensure_sample_world

    ds = DocStore.open(ensure_sample_world().docstore_dir)
    chains = _sample_chains(12)
    out, rej = tmp_path / "q.jsonl", tmp_path / "r.jsonl"
    s1 = asyncio.run(write_questions(chains, ds, TemplateQuestionWriter(), out, rej, progress=False))
    assert s1.accepted + s1.rejected == len(chains) and s1.accepted >= len(chains) // 2
    first = out.read_text()
    qs = read_records(out, Question)
    assert [q.chain_id for q in qs] == [c.chain_id for c in chains if c.chain_id in {q.chain_id for q in qs}]
    for q in qs:
        last = ds.get(q.gold_doc_ids[-1])
        assert last is not None and q.answer.lower() in last.text.lower()
    lines = first.splitlines()
    out.write_text("\n".join(lines[:-3]) + "\n")  # lose the last three questions
    s2 = asyncio.run(write_questions(chains, ds, TemplateQuestionWriter(), out, rej, progress=False))
    assert s2.accepted == 3 and s2.skipped_done == len(chains) - 3 and out.read_text() == first


def test_questions_cli(tmp_path: Path) -> None:
    from longtracerl.io import write_records

    chains = tmp_path / "chains.jsonl"
    write_records(chains, _sample_chains(4))
    out = tmp_path / "q.jsonl"
    cli = str(Path(sys.executable).parent / "longtracerl")
    r = subprocess.run([cli, "questions", "--chains", str(chains), "--llm", "template", "--out", str(out)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert len(read_records(out, Question)) + len(read_records(tmp_path / "q.rejected.jsonl", Rejection)
                                                  if (tmp_path / "q.rejected.jsonl").exists() else []) == 4
    r2 = subprocess.run([cli, "questions", "--chains", str(chains), "--llm", "template", "--out", str(out)],
                        capture_output=True, text=True, timeout=60)
    assert r2.returncode == 0 and "4 already done" in r2.stdout


def test_relation_phrases_read_as_english() -> None:
    """Every relation of the sample world, forward and inverse, reads as a phrase a person would write."""
    from longtracerl.synth.questions.template import relation_phrase

    def phrase(rel: str) -> str:
        return relation_phrase(Hop(entity_id="e1", title="T", doc_id="d", relation=rel))

    assert phrase("independence from") == "go to an entity it gained independence from"
    assert phrase("independence from (inverse)") == "go to an entity that gained independence from it"
    assert phrase("shares a border with") == "go to an entity it shares a border with"
    assert phrase("dependency of (inverse)") == "go to an entity that is a dependency of it"
    assert phrase("largest export partner") == "go to its largest export partner"
    assert phrase("largest export partner (inverse)") == "go to an entity whose largest export partner it is"
    assert phrase("mentions") == "go to an entity its page mentions"
