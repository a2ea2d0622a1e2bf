import asyncio

import pytest

from longtracerl.llm.openai_backend import OpenAIChatLLM
from longtracerl.reward import JudgeCache, LLMJudge, make_judge, parse_verdict


def test_parse_verdicts() -> None:
    assert parse_verdict("hle", "extracted_final_answer: Lyon\nreasoning: same\ncorrect: yes") is True
    assert parse_verdict("hle", "correct: No") is False
    assert parse_verdict("hle", "**correct:** yes") is None or parse_verdict("hle", "correct: **yes") is True
    assert parse_verdict("hle", "I think so") is None
    assert parse_verdict("aa_lcr", "INCORRECT") is False  # tested before CORRECT, its substring
    assert parse_verdict("aa_lcr", "Correct.") is True
    assert parse_verdict("aa_lcr", "maybe") is None


@pytest.mark.llm
def test_judge_with_the_real_bundled_model_and_cache(llm_server: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    judge = make_judge(base_url=llm_server, model="smollm2", cache_path=tmp_path / "j.sqlite", prompt="aa_lcr",
                       max_tokens=24)
    r = asyncio.run(judge.score("<think>...</think>Paris", "Paris", question="What is the capital of France?"))
    # a 135M model may answer anything: the judge must give a verdict or an explicit error, never a silent 0
    assert (r.correct is not None and r.error is None) or (r.correct is None and r.error)
    calls = judge.calls
    if r.correct is not None:
        again = asyncio.run(judge.score("<think>...</think>Paris", "Paris", question="What is the capital of France?"))
        assert again.details.get("cached") is True and again.correct == r.correct
        assert judge.calls == calls  # served from the disk cache


def test_empty_answer_never_calls_the_judge(fault_llm) -> None:  # type: ignore[no-untyped-def]
    url, script = fault_llm
    judge = LLMJudge(OpenAIChatLLM(url, model="m"))
    r = asyncio.run(judge.score("<think>long thought</think>", "Lyon"))
    assert r.score == 0.0 and r.correct is False and script.requests == []


def test_judge_retries_5xx_and_parses(fault_llm, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # fault-injecting stub: the real model cannot be made to answer 500 on demand
    url, script = fault_llm
    script.queue = [("status", 500), ("status", 503), ("ok", "extracted_final_answer: Lyon\nreasoning: ok\ncorrect: yes")]
    judge = LLMJudge(OpenAIChatLLM(url, model="m", backoff=0.01), cache=JudgeCache(tmp_path / "c.sqlite"))
    r = asyncio.run(judge.score("Lyon", "Lyon", question="q"))
    assert r.correct is True and r.score == 1.0 and len(script.requests) == 3
    assert r.details["extracted_final_answer"] == "Lyon"


def test_judge_that_keeps_failing_gives_an_error_state(fault_llm) -> None:  # type: ignore[no-untyped-def]
    # fault-injecting stub: timeouts, then garbage bodies, then unparsable verdicts
    url, script = fault_llm
    script.default = ("sleep", 2.0, "correct: yes")
    judge = LLMJudge(OpenAIChatLLM(url, model="m", timeout=0.2, max_retries=1, backoff=0.01))
    r = asyncio.run(judge.score("Lyon", "Lyon"))
    assert r.correct is None and "timeout" in (r.error or "")

    script.default = ("garbage",)
    r = asyncio.run(LLMJudge(OpenAIChatLLM(url, model="m", max_retries=1, backoff=0.01)).score("Lyon", "Lyon"))
    assert r.correct is None and "garbage" in (r.error or "")

    script.default = ("ok", "no idea")
    r = asyncio.run(LLMJudge(OpenAIChatLLM(url, model="m")).score("Lyon", "Lyon"))
    assert r.correct is None and r.error == "unparsable judge verdict"


def test_judge_other_4xx_is_a_clear_error(fault_llm) -> None:  # type: ignore[no-untyped-def]
    url, script = fault_llm
    script.default = ("status", 401)
    r = asyncio.run(LLMJudge(OpenAIChatLLM(url, model="m")).score("Lyon", "Lyon"))
    assert r.correct is None and "http 401" in (r.error or "") and len(script.requests) == 1
