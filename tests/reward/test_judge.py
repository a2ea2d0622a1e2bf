import asyncio

import pytest

from longtracerl.llm.openai_backend import OpenAIChatLLM
from longtracerl.reward import JudgeCache, LLMJudge, make_judge, parse_verdict


def test_parse_verdicts() -> None:
    assert parse_verdict("hle", "extracted_final_answer: Lyon\nreasoning: same\ncorrect: yes") is True
    assert parse_verdict("hle", "correct: No") is False
    # markdown emphasis and code marks around the key or the value are tolerated
    assert parse_verdict("hle", "**correct:** yes") is True
    assert parse_verdict("hle", "correct: **yes**") is True
    assert parse_verdict("hle", "**Correct**: No") is False
    assert parse_verdict("hle", "`correct`: `yes`") is True
    assert parse_verdict("hle", "correct: yes\nreasoning: on reflection\ncorrect: no") is False  # the last wins
    assert parse_verdict("hle", "I think so") is None
    assert parse_verdict("aa_lcr", "INCORRECT") is False  # tested before CORRECT, its substring
    assert parse_verdict("aa_lcr", "Correct.") is True
    assert parse_verdict("aa_lcr", "maybe") is None


@pytest.mark.llm
def test_judge_with_the_real_bundled_model(llm_server: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """What the bundled SmolLM2-135M really does as a judge, deterministically (temperature 0 on the first try,
    fixed seeds on the retries): it paraphrases the instructions instead of giving a verdict, with either
    built-in prompt, so every try is unparsable and the result is the explicit error state, never a 0. An
    error is not cached: asking again asks the model again. (The cache of decided verdicts is tested with a
    scripted server below: this model never decides.)"""
    for prompt in ("aa_lcr", "hle"):
        judge = make_judge(base_url=llm_server, model="smollm2", cache_path=tmp_path / f"{prompt}.sqlite",
                           prompt=prompt, max_tokens=96)
        r = asyncio.run(judge.score("<think>...</think>Paris", "Paris", question="What is the capital of France?"))
        assert r.correct is None and r.error == "unparsable judge verdict" and r.score == 0.0
        assert judge.calls == 3 and r.details["tries"] == 3 and r.details["judge_output"].strip()
        again = asyncio.run(judge.score("<think>...</think>Paris", "Paris", question="What is the capital of France?"))
        assert again.correct is None and "cached" not in again.details and judge.calls == 6


def test_judge_caches_decided_verdicts(fault_llm, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A scripted judge server (FAKE: the bundled model never gives a readable verdict) decides once; the same
    question, gold and answer are then served from the sqlite cache, also by a new judge over the same file."""
    url, script = fault_llm
    script.default = ("ok", "extracted_final_answer: Lyon\nreasoning: same city\ncorrect: yes")
    cache = tmp_path / "c.sqlite"
    judge = LLMJudge(OpenAIChatLLM(url, model="m"), cache=JudgeCache(cache))
    first = asyncio.run(judge.score("Lyon", "Lyon", question="q"))
    assert first.correct is True and len(script.requests) == 1 and "cached" not in first.details
    second = asyncio.run(judge.score("<think>hmm</think>Lyon", "Lyon", question="q"))  # same final answer
    assert second.correct is True and second.details["cached"] is True and len(script.requests) == 1
    other = LLMJudge(OpenAIChatLLM(url, model="m"), cache=JudgeCache(cache))
    assert asyncio.run(other.score("Lyon", "Lyon", question="q")).details["cached"] is True
    assert len(script.requests) == 1
    asyncio.run(judge.score("Lyon", "Lyon", question="another question"))  # another key: asks the server
    assert len(script.requests) == 2


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
