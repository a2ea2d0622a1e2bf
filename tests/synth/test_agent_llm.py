"""LLMSearchAgent against the real bundled model, and fault-injecting stubs for what it cannot produce.

The bundled SmolLM2-135M behind llama-cpp-python's server is driven for real with both protocols.
That server ignores ``tools`` under ``tool_choice=auto`` (it only emits tool calls when one named tool
is forced, which an agent cannot use), so the tool-call path is ALSO exercised by a scripted stub that
returns tool calls: a FAKE, used only to inject replies the real server cannot give (tool calls,
garbage, failures).
"""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from longtracerl.io import read_records
from longtracerl.llm.base import ChatResponse, LLMError
from longtracerl.records import Rejection, Trajectory, Usage
from longtracerl.reward import get_outcome_scorer
from longtracerl.synth.agent import LLMSearchAgent, collect_trajectories
from longtracerl.synth.agent.text_protocol import DEMO_MESSAGES


class ScriptedLLM:
    """FAKE for fault injection: replays scripted replies and records every request it receives."""

    backend = "stub"
    model = "scripted"

    def __init__(self, replies: list[Any]) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []

    async def chat(self, messages: list[dict[str, Any]], **kw: Any) -> ChatResponse:
        self.requests.append({"messages": copy.deepcopy(messages), **kw})
        r = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(r, Exception):
            raise r
        if callable(r):
            r = r(messages)
        if isinstance(r, str):
            return ChatResponse(content=r, usage=Usage(calls=1, prompt_tokens=10, completion_tokens=5))
        return r


def _call(name: str, args: Any, cid: str) -> dict[str, Any]:
    return {"id": cid, "name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}


def _tools(*calls: dict[str, Any]) -> ChatResponse:
    return ChatResponse(
        tool_calls=list(calls),
        finish_reason="tool_calls",
        usage=Usage(calls=1, prompt_tokens=20, completion_tokens=7),
    )


def _run(agent: LLMSearchAgent, q: Any, attempt: int = 1) -> Trajectory:
    return asyncio.run(agent.solve(q, attempt))


# ---------------------------------------------------------------- real bundled model


@pytest.mark.llm
# the real pages only: on the hand-made world the rerun below diverges at turn 2 (same seed, same request,
# another reply from llama.cpp), a known gap reported with issue 22, not hidden by a looser assertion
@pytest.mark.parametrize("two_wiki", ["2wiki"], indirect=True)
def test_real_model_text_protocol(llm_server: str, wiki_world) -> None:  # type: ignore[no-untyped-def]
    from longtracerl.llm.openai_backend import OpenAIChatLLM

    llm = OpenAIChatLLM(llm_server, model="smollm2", timeout=60)
    agent = LLMSearchAgent(
        llm,
        wiki_world.search,
        protocol="text",
        max_turns=2,
        obs_max_tokens=250,
        max_tokens=48,
        temperature=0.7,
    )
    q = wiki_world.questions[0]
    t = _run(agent, q)
    assert t.end_reason in {"answered", "turn_limit", "empty_answer"}  # never an exception, never llm_error
    assert 1 <= t.usage.calls <= 2 and t.usage.completion_tokens > 0 and t.usage.prompt_tokens > 0
    assert len(t.steps) == t.usage.calls  # one recorded step per turn: an action or a counted error
    for s in t.steps:
        if s.kind == "search" and s.error is None:
            assert [h.doc_id for h in s.results or []] == [
                h.doc_id for h in wiki_world.search.search(s.query, 5)
            ]
        if s.kind == "error":
            assert s.error
    if t.end_reason != "answered":
        assert t.final_answer == "" and t.cited_doc_ids == []
    # the same seed gives the same requests, hence the same trajectory (llama.cpp honours the seed)
    assert _run(agent, q).model_dump(exclude={"usage"}) == t.model_dump(exclude={"usage"})


@pytest.mark.llm
def test_real_model_tools_protocol_and_collect(llm_server: str, wiki_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from longtracerl.llm.openai_backend import OpenAIChatLLM

    llm = OpenAIChatLLM(llm_server, model="smollm2", timeout=60)
    agent = LLMSearchAgent(
        llm, wiki_world.search, protocol="tools", max_turns=2, obs_max_tokens=200, max_tokens=40
    )
    qs = wiki_world.questions[:2]
    out, rej = tmp_path / "traj.jsonl", tmp_path / "rej.jsonl"
    stats = asyncio.run(
        collect_trajectories(
            qs, agent, get_outcome_scorer("contains"), out, rej, attempts=1, concurrency=2, progress=False
        )
    )
    # the server accepted the tool schemas every time (no llm_error), and each question ended somewhere
    assert stats.end_reasons.get("llm_error", 0) == 0 and stats.attempts == 2
    assert stats.solved + stats.rejected == 2 and stats.usage.calls >= 2
    kept = read_records(out, Trajectory)
    rejected = read_records(rej, Rejection)
    assert {t.question_id for t in kept} | {r.item_id for r in rejected} == {q.question_id for q in qs}
    assert all(r.stage == "agent" and r.reason in {"unsolved", "no_answer"} for r in rejected)


# ---------------------------------------------------------------- tool calls (fault-injecting stub)


def test_tool_calls_recorded_with_errors_counted(wiki_world) -> None:  # type: ignore[no-untyped-def]
    q = wiki_world.questions[0]
    first_hits = wiki_world.search.search("Les films du losange", 5)
    gold0 = q.gold_doc_ids[0]
    llm = ScriptedLLM(
        [
            _tools(_call("search", {"query": "Les films du losange"}, "c1")),
            _tools(_call("open", {"doc_id": gold0}, "c2"), _call("open", {"doc_id": "no_such_page"}, "c3")),
            _tools(_call("search", "{not json", "c4")),
            _tools(_call("browse", {"url": "x"}, "c5")),
            _tools(_call("search", {"query": "qqqzzzxxyy"}, "c6")),  # no results in this corpus
            _tools(_call("answer", {"text": q.answer, "cited_doc_ids": [gold0]}, "c7")),
        ]
    )
    agent = LLMSearchAgent(llm, wiki_world.search, protocol="tools", max_turns=8, obs_max_tokens=25)
    t = _run(agent, q)
    kinds = [(s.kind, s.error is not None) for s in t.steps]
    assert kinds == [
        ("search", False),
        ("open", False),
        ("open", True),
        ("error", True),
        ("error", True),
        ("search", False),
        ("answer", False),
    ]
    assert [h.doc_id for h in t.steps[0].results or []] == [h.doc_id for h in first_hits]
    assert [h.rank for h in t.steps[0].results or []] == [1, 2, 3, 4, 5]
    assert t.steps[2].error == "document not found" and "not valid JSON" in (t.steps[3].error or "")
    assert "unknown tool 'browse'" in (t.steps[4].error or "")
    assert t.steps[5].results == []
    assert (t.final_answer, t.cited_doc_ids, t.end_reason) == (q.answer, [gold0], "answered")
    assert t.opened_doc_ids == [gold0]
    assert t.usage == Usage(calls=6, prompt_tokens=120, completion_tokens=42)
    # the conversation sent back: OpenAI tool messages answering each call id, observations truncated
    last = llm.requests[-1]["messages"]
    tool_msgs = {m["tool_call_id"]: m["content"] for m in last if m["role"] == "tool"}
    assert set(tool_msgs) == {"c1", "c2", "c3", "c4", "c5", "c6"}
    assert "[truncated: showing the first 100 of" in tool_msgs["c2"]
    assert "no document with id 'no_such_page'" in tool_msgs["c3"]
    assert tool_msgs["c6"].startswith("No results")
    assert all(m.get("content") is not None for m in last)  # llama.cpp rejects null content
    assert llm.requests[0]["tools"] and llm.requests[0]["stop"] is None


def test_tools_mode_falls_back_to_tagged_text(wiki_world) -> None:  # type: ignore[no-untyped-def]
    q = wiki_world.questions[1]
    llm = ScriptedLLM([f'<answer cite="{q.gold_doc_ids[0]}">{q.answer}</answer>'])
    t = _run(LLMSearchAgent(llm, wiki_world.search, protocol="tools"), q)
    assert (t.final_answer, t.cited_doc_ids) == (q.answer, [q.gold_doc_ids[0]])


def test_text_protocol_full_episode_with_limits(wiki_world) -> None:  # type: ignore[no-untyped-def]
    q = wiki_world.questions[0]
    hits = wiki_world.search.search("Les films du losange", 5)
    title_of_second = hits[1].title
    llm = ScriptedLLM(
        [
            "Let me look.\n<search>Les films du losange",  # closing tag eaten by the stop sequence
            f"<open>{hits[0].doc_id}",
            f"<open>{title_of_second}</open>",  # a title instead of an id: resolved from the result list
            f"<open>{hits[2].doc_id}</open>",  # over max_open=2
            "I am not sure what to do",
            f'<answer cite="{hits[0].doc_id}">{q.answer}</answer>',
        ]
    )
    agent = LLMSearchAgent(llm, wiki_world.search, protocol="text", max_turns=10, max_open=2)
    t = _run(agent, q)
    assert [s.kind for s in t.steps] == ["search", "open", "open", "error", "error", "answer"]
    assert t.steps[0].thought == "Let me look." and t.steps[0].query == "Les films du losange"
    assert t.opened_doc_ids == [hits[0].doc_id, hits[1].doc_id]
    assert "open limit reached" in (t.steps[3].error or "") and "no action found" in (t.steps[4].error or "")
    msgs = llm.requests[-1]["messages"]
    n = 2 + len(DEMO_MESSAGES)  # system, worked demo exchange, question
    assert msgs[1 : n - 1] == DEMO_MESSAGES and msgs[n - 1]["content"] == f"Question: {q.question}"
    assert msgs[n] == {"role": "assistant", "content": "Let me look.\n<search>Les films du losange</search>"}
    assert msgs[n + 1]["role"] == "user" and msgs[n + 1]["content"].startswith("<observation>")
    assert llm.requests[0]["stop"] and llm.requests[0]["tools"] is None
    assert len({r["seed"] for r in llm.requests}) == len(llm.requests)  # a distinct, stable seed per call


def test_garbage_is_counted_never_raised_and_turn_limit_ends_unanswered(wiki_world) -> None:  # type: ignore[no-untyped-def]
    q = wiki_world.questions[0]
    garbage = ["", "<<<>>>", "\x00\x01 binary", "<answer></answer>", '{"action": 3}', "<search>   </search>"]
    for protocol in ("text", "tools"):
        llm = ScriptedLLM([*garbage, ChatResponse(content="", finish_reason="length")])
        t = _run(LLMSearchAgent(llm, wiki_world.search, protocol=protocol, max_turns=7), q)  # type: ignore[arg-type]
        assert [s.kind for s in t.steps] == ["error"] * 7
        assert "token limit" in (t.steps[-1].error or "")
        assert (t.end_reason, t.final_answer, t.usage.calls) == ("turn_limit", "", 7)
        # the model was told the next turn is its last
        assert "last turn" in llm.requests[-1]["messages"][-1]["content"]


def test_llm_failure_ends_attempt_and_collect_rejects_with_reason(wiki_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    qs = wiki_world.questions[:2]
    llm = ScriptedLLM([LLMError("timeout", "after 5 attempts")])
    agent = LLMSearchAgent(llm, wiki_world.search, protocol="text")
    t = _run(agent, qs[0])
    assert (
        t.end_reason == "llm_error" and t.steps[-1].kind == "error" and "timeout" in (t.steps[-1].error or "")
    )
    rej = tmp_path / "rej.jsonl"
    stats = asyncio.run(
        collect_trajectories(
            qs, agent, get_outcome_scorer("contains"), tmp_path / "t.jsonl", rej, attempts=2, progress=False
        )
    )
    assert stats.rejected_by_reason == {"llm_error": 2} and stats.attempts == 4
    rows = read_records(rej, Rejection)
    assert [(r.item_id, r.reason, r.attempts) for r in rows] == [(q.question_id, "llm_error", 2) for q in qs]
    assert not (tmp_path / "t.jsonl").read_text()


def test_first_correct_attempt_is_kept(wiki_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    q = wiki_world.questions[0]
    # attempt 1 answers wrong, attempt 2 right: stub replies are keyed on the per-call seed order
    replies = ["<answer>Paris</answer>", f"<answer>It is {q.answer}.</answer>", "<answer>never used</answer>"]
    agent = LLMSearchAgent(ScriptedLLM(replies), wiki_world.search, protocol="text")
    out, att = tmp_path / "t.jsonl", tmp_path / "attempts.jsonl"
    stats = asyncio.run(
        collect_trajectories(
            [q],
            agent,
            get_outcome_scorer("contains"),
            out,
            tmp_path / "r.jsonl",
            attempts=5,
            progress=False,
            attempts_path=att,
        )
    )
    assert stats.solved_at_attempt == {2: 1} and stats.attempts == 2
    kept = read_records(out, Trajectory)
    assert len(kept) == 1 and kept[0].attempt == 2 and kept[0].correct and kept[0].judge["score"] == 1.0
    log = read_records(att, Trajectory)
    assert [(t.attempt, t.correct) for t in log] == [(1, False), (2, True)]


def test_demo_only_in_text_mode_and_optional(wiki_world) -> None:  # type: ignore[no-untyped-def]
    q = wiki_world.questions[0]
    for protocol, demo, n_msgs in (
        ("text", False, 2),
        ("tools", True, 2),
        ("text", True, 2 + len(DEMO_MESSAGES)),
    ):
        llm = ScriptedLLM(["<answer>x</answer>"])
        _run(LLMSearchAgent(llm, wiki_world.search, protocol=protocol, demo=demo), q)  # type: ignore[arg-type]
        assert len(llm.requests[0]["messages"]) == n_msgs


def test_bad_protocol_name() -> None:
    with pytest.raises(ValueError, match="unknown agent protocol 'json'"):
        LLMSearchAgent(ScriptedLLM(["x"]), None, protocol="json")  # type: ignore[arg-type]


def test_old_observations_elided_to_fit_context(wiki_world) -> None:  # type: ignore[no-untyped-def]
    q = wiki_world.questions[0]
    hits = wiki_world.search.search("Les films du losange", 5)
    opens = [f"<open>{h.doc_id}</open>" for h in hits[:4]]
    llm = ScriptedLLM([*opens, "<answer>x</answer>"])
    agent = LLMSearchAgent(
        llm, wiki_world.search, protocol="text", context_max_tokens=400, obs_max_tokens=150
    )
    t = _run(agent, q)
    assert t.end_reason == "answered" and len(t.opened_doc_ids) == 4
    last = llm.requests[-1]["messages"]
    assert sum(len(m["content"]) for m in last) <= 1600 + 600  # budget, plus the last observation kept whole
    assert last[-1]["content"].startswith("<observation>\nDocument")  # the latest observation is intact
    assert any(m["content"].startswith("[earlier observation removed") for m in last)
    assert last[1 : 1 + len(DEMO_MESSAGES)] == DEMO_MESSAGES  # the demonstration is never elided
