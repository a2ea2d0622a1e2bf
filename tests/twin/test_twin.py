"""``serve-twin``: it recognises every LLM role from our real prompts, answers them through our real clients
over real HTTP, serves like an endpoint (capacity, usage, cut replies, reasoning shapes, faults), and as the
agent finds the gold pages of a question it wrote in the sample world.

The twin is itself the scripted model the project rules allow: it scripts behaviours (valid multi-hop drafts,
tool calls in order, verdicts) that the bundled 135M model cannot produce.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, cast

import pytest

from longtracerl.eval.prompts import PROMPTS, render
from longtracerl.graph.chooser import Candidate
from longtracerl.llm.base import LLMError
from longtracerl.llm.openai_backend import OpenAIChatLLM
from longtracerl.llm.walk_chooser import LLMWalkChooser
from longtracerl.records import Chain, Document, Hop, Question, WriterInfo
from longtracerl.reward.judge import LLMJudge
from longtracerl.synth.agent.llm_agent import LLMSearchAgent
from longtracerl.synth.questions.llm_writer import LLMQuestionWriter
from longtracerl.twin.dry_run import running_twin, twin_stats
from longtracerl.twin.roles import agent_state, classify
from longtracerl.twin.service import TwinConfig

FAST = {"time_scale": 0.0, "tokenizer": "chars"}


def _llm(url: str, **kw: Any) -> OpenAIChatLLM:
    return OpenAIChatLLM(url, model="twin", max_retries=kw.pop("max_retries", 0), backoff=0.01, **kw)


def _question(text: str, qid: str = "q1") -> Question:
    return Question(question_id=qid, chain_id="c", question=text, answer="x", gold_entities=["a"], gold_doc_ids=["d"],
                    writer=WriterInfo(backend="test"))


def _chain() -> tuple[Chain, dict[str, Document]]:
    docs = {f"d{i}": Document(doc_id=f"d{i}", title=t, text=text) for i, (t, text) in enumerate([
        ("Ghana", "Ghana was the first sub-Saharan colony to gain independence in 1957. Its lakes feed large dams."),
        ("Togo", "Togo is a narrow strip of land on the Gulf of Guinea. Its phosphate mines date from the 1950s."),
    ])}
    hops = [Hop(entity_id="e0", title="Ghana", doc_id="d0"),
            Hop(entity_id="e1", title="Togo", doc_id="d1", relation="shares a border with")]
    return Chain(chain_id="c0", hops=hops, seed=0), docs


def test_recognises_each_role_from_our_own_prompts() -> None:
    llm = _llm("http://127.0.0.1:9/v1")
    chooser = LLMWalkChooser(llm).prompt([Hop(entity_id="a", title="Ghana")],
                                         [Candidate(entity_id="b", title="Togo", first_sentence="A strip of land.")])
    req = classify({"messages": [{"role": "user", "content": chooser}]})
    assert (req.role, req.kind) == ("chooser", "chooser")

    chain, docs = _chain()
    writer = LLMQuestionWriter(llm).prompt(chain, docs, feedback="hop_ambiguous (hop 1)")
    req = classify({"messages": [{"role": "user", "content": writer}]})
    assert req.role == "writer" and "2. Togo (via: shares a border with)" in req.fields["path"]
    assert "hop_ambiguous" in req.fields["feedback"]

    for protocol, kind in (("tools", "agent_tools"), ("text", "agent_text")):
        msgs = LLMSearchAgent(llm, cast(Any, None), protocol=protocol, max_turns=7)._messages(_question("Who?"))  # type: ignore[arg-type]
        req = classify({"messages": msgs})
        assert (req.role, req.kind, req.fields["max_turns"]) == ("agent", kind, "7")
        assert agent_state(req).question == "Who?"  # the real question, not the text protocol's demo one

    for prompt, kind in (("hle", "judge_hle"), ("aa_lcr", "judge_aa_lcr")):
        text = LLMJudge(llm, prompt=prompt).template.format(question="Q?", response="Accra", correct_answer="Accra")  # type: ignore[arg-type]
        req = classify({"messages": [{"role": "user", "content": text}]})
        assert (req.role, req.kind, req.fields["response"]) == ("judge", kind, "Accra")

    text = render(PROMPTS["aa-lcr"], {"documents": "doc", "question": "What?"})
    req = classify({"messages": [{"role": "user", "content": text}]})
    assert (req.role, req.kind, req.fields["question"]) == ("eval", "eval_aa-lcr", "What?")
    assert classify({"messages": [{"role": "user", "content": "hello"}]}).role == "other"


def test_roles_through_our_clients_over_http() -> None:
    chain, docs = _chain()

    async def go(url: str) -> None:
        llm = _llm(url)
        chooser = LLMWalkChooser(llm)
        cands = [Candidate(entity_id="b", title="Togo", first_sentence="A narrow strip on the Gulf of Guinea."),
                 Candidate(entity_id="c", title="Mali")]
        import random

        assert await chooser.achoose([Hop(entity_id="a", title="Ghana")], cands, random.Random(0)) in (0, 1)
        assert chooser.counters["fallbacks"] == 0 and chooser.invalid == 0
        draft, raw, usage = await LLMQuestionWriter(llm).adraft(chain, docs)
        assert draft is not None and draft.gold_entities == ["Ghana", "Togo"] and len(draft.hop_clues) == 2
        assert "Ghana" not in draft.question and "Togo" not in draft.question  # names masked
        assert usage.prompt_tokens > 100 and usage.completion_tokens > 10
        judge = LLMJudge(llm, prompt="hle")
        right = await judge.score(draft.answer, draft.answer, question=draft.question)
        wrong = await judge.score("Paris", draft.answer, question=draft.question)
        alias = await LLMJudge(llm, prompt="aa_lcr").score("it is Lome", "Lomé", question="q", aliases=["Lome"])
        assert (right.correct, wrong.correct, alias.correct) == (True, False, True)
        await llm.aclose()

    with running_twin(TwinConfig(**FAST)) as url:
        asyncio.run(go(url))
        st = twin_stats(url)
    assert {r: st["roles"][r]["calls"] for r in ("chooser", "writer", "judge")} == {"chooser": 1, "writer": 1, "judge": 3}
    assert st["remembered"] == 1


def test_reasoning_shapes_and_cut_replies() -> None:
    msgs = [{"role": "user", "content": "hello"}]

    async def go(url: str) -> tuple[Any, Any]:
        llm = _llm(url)
        full = await llm.chat(msgs, max_tokens=4096)
        cut = await llm.chat(msgs, max_tokens=5)
        await llm.aclose()
        return full, cut

    with running_twin(TwinConfig(reasoning="field", **FAST)) as url:
        full, cut = asyncio.run(go(url))
    assert full.reasoning and full.finish_reason == "stop" and full.usage.completion_tokens > 10
    assert cut.finish_reason == "length" and cut.content == ""  # the thinking used up the budget
    with running_twin(TwinConfig(reasoning="think", **FAST)) as url:
        full, _ = asyncio.run(go(url))
    assert full.content.startswith("<think>") and "</think>" in full.content and full.reasoning is None


def test_capacity_queues_like_max_num_seqs() -> None:
    msgs = [{"role": "user", "content": "hello"}]

    async def go(url: str) -> float:
        llm = _llm(url, max_concurrency=16)
        t0 = time.perf_counter()
        await asyncio.gather(*(llm.chat(msgs, seed=i) for i in range(6)))
        await llm.aclose()
        return time.perf_counter() - t0

    cfg = TwinConfig(capacity=2, latency={"other": 0.3}, latency_sigma=0.0, tokenizer="chars")
    with running_twin(cfg) as url:
        elapsed = asyncio.run(go(url))
        st = twin_stats(url)
    assert st["max_in_flight"] == 2 and st["max_queued"] >= 3
    assert elapsed >= 0.85  # three waves of 0.3 s


def test_faults_and_token() -> None:
    msgs = [{"role": "user", "content": "hello"}]
    with running_twin(TwinConfig(fail_rate=1.0, **FAST)) as url:
        with pytest.raises(LLMError, match="http 503"):
            asyncio.run(_llm(url, max_retries=1).chat(msgs))
        assert twin_stats(url)["faults"] == {"http_503": 2}
    with running_twin(TwinConfig(malformed_rate=1.0, **FAST)) as url:
        with pytest.raises(LLMError, match="garbage"):
            asyncio.run(_llm(url).chat(msgs))
    with running_twin(TwinConfig(truncate_rate=1.0, **FAST)) as url:
        assert asyncio.run(_llm(url).chat(msgs)).finish_reason == "length"
    # half the requests fail; retries land on the same reply (replies depend on the request only)
    with running_twin(TwinConfig(fail_rate=0.5, seed=3, **FAST)) as url:
        for seed in range(4):
            a = asyncio.run(_llm(url, max_retries=12).chat(msgs, seed=seed))
            b = asyncio.run(_llm(url, max_retries=12).chat(msgs, seed=seed))
            assert a.content == b.content
        assert twin_stats(url)["faults"]["http_503"] >= 1
    from longtracerl.twin.service import Twin, create_twin_app

    app = create_twin_app(Twin(TwinConfig(**FAST)), token="s3cret")
    from fastapi.testclient import TestClient

    c = TestClient(app)
    assert c.get("/v1/models").status_code == 401
    assert c.get("/v1/models", headers={"Authorization": "Bearer s3cret"}).json()["data"][0]["id"] == "twin"
    assert c.get("/health").status_code == 200


def test_serve_twin_refuses_an_exposed_bind_without_token() -> None:
    from typer.testing import CliRunner

    from longtracerl.cli import app

    r = CliRunner().invoke(app, ["serve-twin", "--host", "0.0.0.0"])
    assert r.exit_code == 2 and "needs --token" in r.output
    r = CliRunner().invoke(app, ["serve-twin", "--latency", "painter=3"])
    assert r.exit_code == 2 and "painter=3" in r.output


@pytest.fixture(scope="module")
def sample_knowledge() -> Any:
    from longtracerl.twin.commands import load_knowledge

    return load_knowledge("sample")


def _sample_chain(k: Any) -> Chain:
    """A 2-move chain of the sample graph along labelled edges (Ghana -> a neighbour -> one of its neighbours)."""
    g = k.graph
    hops = [Hop(entity_id=g.entity_ids[g.node_by_title("Ghana")], title="Ghana",
                doc_id=g.doc_ids[g.node_by_title("Ghana")])]
    node = g.node_by_title("Ghana")
    seen = {node}
    for _ in range(2):
        nb, rel = g.neighbors(node), g.neighbor_relations(node)
        j = next(i for i, v in enumerate(nb.tolist()) if v not in seen and g.doc_ids[v])
        node = int(nb[j])
        seen.add(node)
        hops.append(Hop(entity_id=g.entity_ids[node], title=g.titles[node], doc_id=g.doc_ids[node],
                        relation=g.relation_name(int(rel[j]))))
    return Chain(chain_id="c-sample", hops=hops, seed=0)


@pytest.mark.parametrize("protocol", ["tools", "text"])
def test_agent_finds_the_gold_pages_of_its_own_question(sample_knowledge: Any, protocol: str, tmp_path: Path) -> None:
    k = sample_knowledge
    chain = _sample_chain(k)
    docs = {h.doc_id: k.docstore.get(h.doc_id) for h in chain.hops}

    async def go(url: str) -> tuple[Any, list[Any], Any]:
        llm = _llm(url)
        draft, _, _ = await LLMQuestionWriter(llm).adraft(chain, docs)  # type: ignore[arg-type]
        assert draft is not None
        q = Question(question_id="q-s", chain_id=chain.chain_id, question=draft.question, answer=draft.answer,
                     gold_entities=draft.gold_entities, gold_doc_ids=[h.doc_id or "" for h in chain.hops],
                     writer=WriterInfo(backend="openai"))
        agent = LLMSearchAgent(llm, k.search, protocol=protocol, max_turns=12)  # type: ignore[arg-type]
        tries = [await agent.solve(q, a) for a in range(1, 9)]
        stranger = await agent.solve(_question("Which river crosses the capital of the country with a red "
                                               "and green flag and a star?", "q-x"), 1)
        await llm.aclose()
        return q, tries, stranger

    with running_twin(TwinConfig(skill=0.6, **FAST), knowledge=k) as url:
        q, tries, stranger = asyncio.run(go(url))
    gold = set(q.gold_doc_ids)
    right = [t for t in tries if t.final_answer == q.answer]
    assert right and len(right) < len(tries)  # skill 0.6: most attempts right, not all
    for t in right:  # it opened every gold page, cited them, and answered from them
        opened = {s.doc_id for s in t.steps if s.kind == "open"}
        assert gold <= opened and set(t.cited_doc_ids) == gold and t.end_reason == "answered"
    assert any(set(s.doc_id for s in t.steps if s.kind == "open") - gold for t in tries)  # an unhelpful page
    # a question it did not write: searched, read, then gave up or guessed, never the chain's pages cited
    kinds = [s.kind for s in stranger.steps]
    assert kinds[0] == "search" and "open" in kinds and kinds[-1] == "answer"


@pytest.mark.slow
def test_build_dry_run_forecast_matches_what_the_twin_served(tmp_path: Path) -> None:
    """``build --dry-run`` through the CLI: scratch directory only, forecast tables, per-role counts equal the
    twin's own counters for this build."""
    import json

    from typer.testing import CliRunner

    from longtracerl.cli import app

    r = CliRunner().invoke(app, ["build", "--dry-run", "--n-chains", "3", "--set", "walk.hops=2", "--set",
                                 "walk.chooser=llm", "--max-tokens", "8000", "--out", str(tmp_path / "runs"),
                                 "--scratch", str(tmp_path / "scratch"), "--quiet", "--capacity", "16",
                                 "--latency", "writer=2"])
    assert r.exit_code == 0, r.output
    assert not (tmp_path / "runs").exists()  # never the real run directory
    fc = json.loads((tmp_path / "scratch" / "default" / "dry_run.json").read_text())
    assert "wall time at capacity 16" in r.output and "yield:" in r.output
    assert fc["roles"]["chooser"]["calls"] >= 3 and fc["roles"]["writer"]["latency"] == 2.0
    assert fc["yield"]["walks"] == 3 and fc["yield"]["chains"] == 3
    manifest = json.loads((tmp_path / "scratch" / "default" / "manifest.json").read_text())
    walk = manifest["stages"]["walk"]["runs"][-1]
    assert walk["chooser_counters"]["calls"] == fc["roles"]["chooser"]["calls"]
    writer_calls = manifest["stages"]["questions"]["runs"][-1]["llm_calls"]
    assert writer_calls == fc["roles"]["writer"]["calls"]
    st = fc["stages"]["questions"]
    assert st["busy_seconds"] == pytest.approx(2.0 * writer_calls)
    assert st["forecast_seconds"] >= st["ideal_seconds"]


def test_a_pool_with_a_failing_twin_gives_the_single_twins_answers() -> None:
    """Twins of a pool share the reply seed and differ in the fault stream: whichever endpoint ends up answering
    a retried request, the answer is the one a single healthy twin gives."""
    from longtracerl.llm.pool import make_pool

    chain, docs = _chain()
    prompts = [LLMQuestionWriter(_llm("http://127.0.0.1:9/v1")).prompt(chain, docs, feedback=f"try {i}")
               for i in range(6)]

    async def ask(llm: Any) -> list[str]:
        out = [(await llm.chat([{"role": "user", "content": p}], seed=i, temperature=0.7)).content
               for i, p in enumerate(prompts)]
        await llm.aclose()
        return out

    with running_twin(TwinConfig(**FAST)) as one:
        alone = asyncio.run(ask(_llm(one)))
    with running_twin(TwinConfig(**FAST)) as good, \
            running_twin(TwinConfig(fail_rate=0.5, fault_seed=7, **FAST)) as bad:
        pooled = asyncio.run(ask(make_pool([good, bad], model="twin", cooldown=0.01)))
        faults = twin_stats(bad)["faults"]
    assert pooled == alone and faults.get("http_503", 0) >= 1


def test_twins_sharing_a_memory_file_know_each_others_questions(tmp_path: Path) -> None:
    """``--memory FILE``: the question one twin wrote is known to another (the agent's call may land there)."""
    from longtracerl.twin.memory import TwinMemory

    chain, docs = _chain()
    path = tmp_path / "memory.sqlite"

    async def write(url: str) -> str:
        llm = _llm(url)
        draft, _, _ = await LLMQuestionWriter(llm).adraft(chain, docs)
        await llm.aclose()
        assert draft is not None
        return draft.question

    with running_twin(TwinConfig(**FAST), memory=TwinMemory(path)) as a, \
            running_twin(TwinConfig(**FAST), memory=TwinMemory(path)) as b:
        question = asyncio.run(write(a))
        assert twin_stats(b)["remembered"] == 1
    known = TwinMemory(path).recall(question)
    assert known is not None and known.titles == ["Ghana", "Togo"]
