"""The judge's decision rule: final answer after the last ``</think>``, empty -> 0 without a call, a
``correct: yes/no`` verdict read tolerantly, up to 3 tries, then an explicit error; ``prompt_file`` templates.

The judge endpoint here is a SCRIPTED stub (``fault_llm``): the bundled 135M model cannot be made to answer
with a given verdict format, an unreadable reply or a 401 on demand."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from longtracerl.llm.openai_backend import OpenAIChatLLM
from longtracerl.reward import LLMJudge, RewardConfig, make_judge, parse_verdict
from longtracerl.reward.judge import load_judge_template


@pytest.mark.parametrize("reply,want", [
    ("correct: yes", True),
    ("Correct: YES", True),
    ("**correct:** yes", True),
    ("**Correct**: No", False),
    ("- correct: `yes`", True),
    ("### correct：no", False),
    ("correct: *yes*", True),
    ('"correct": "no"', False),
    ("extracted_final_answer: x\nreasoning: the answer is correct: yes it is\ncorrect: no", False),  # last wins
    ("incorrect: yes", None),
    ("the answer seems correct", None),
    ("correct: maybe", None),
])
def test_verdict_is_read_tolerantly(reply: str, want: bool | None) -> None:
    assert parse_verdict("yes_no", reply) is want
    assert parse_verdict("hle", reply) is want


def test_final_answer_is_after_the_last_think_close(fault_llm: Any) -> None:
    url, script = fault_llm
    script.default = ("ok", "correct: yes")
    judge = LLMJudge(OpenAIChatLLM(url, model="m"))
    r = asyncio.run(judge.score("<think>Lyon?</think>hmm</think> Paris", "Paris", question="Which city?"))
    assert r.correct is True
    sent = script.requests[-1]["messages"][0]["content"]
    assert "Paris" in sent and "Lyon?" not in sent and "hmm" not in sent
    n = len(script.requests)
    r = asyncio.run(judge.score("<think>Paris</think>   ", "Paris"))
    assert r.score == 0.0 and r.correct is False and len(script.requests) == n  # empty -> 0, no call


def test_up_to_three_tries_then_an_explicit_error(fault_llm: Any) -> None:
    url, script = fault_llm
    script.queue = [("ok", "no idea"), ("ok", "still thinking"), ("ok", "correct: yes")]
    judge = LLMJudge(OpenAIChatLLM(url, model="m"))
    r = asyncio.run(judge.score("Lyon", "Lyon"))
    assert r.correct is True and r.details["tries"] == 3 and len(script.requests) == 3
    script.requests.clear()
    script.default = ("ok", "no idea")
    r = asyncio.run(judge.score("Nice", "Lyon"))
    assert r.correct is None and r.error == "unparsable judge verdict" and len(script.requests) == 3
    # a permanent client error is not retried
    script.requests.clear()
    script.default = ("status", 401)
    r = asyncio.run(LLMJudge(OpenAIChatLLM(url, model="m"), tries=3).score("Nice", "Lyon"))
    assert r.correct is None and "401" in (r.error or "") and len(script.requests) == 1


def test_prompt_file_with_named_placeholders(fault_llm: Any, tmp_path: Path) -> None:
    url, script = fault_llm
    f = tmp_path / "judge.txt"
    f.write_text("Q={question}\nGOLD={correct_answer}\nANS={response}\nLiteral {{braces}}. Say CORRECT or INCORRECT.")
    script.default = ("ok", "INCORRECT")
    judge = make_judge(base_url=url, model="m", prompt_file=f, verdict="correct_incorrect", use_cache=False)
    r = asyncio.run(judge.score("<think>x</think>Nice", "Lyon", question="Which city?", aliases=["Lyons"]))
    assert r.correct is False
    sent = script.requests[-1]["messages"][0]["content"]
    assert sent.startswith("Q=Which city?\nGOLD=Lyon (also accepted: Lyons)\nANS=Nice\nLiteral {braces}.")
    # RewardConfig carries the file through to the judge
    cfg = RewardConfig.model_validate({"outcome": "judge", "judge": {"base_url": url, "model": "m",
                                                                     "prompt_file": str(f), "cache": False,
                                                                     "verdict": "correct_incorrect"}})
    from longtracerl.reward import LongTraceReward

    script.default = ("ok", "CORRECT")
    res = LongTraceReward(cfg).score_one("<think>x</think>Lyon", "Lyon", [], question="Which city?")
    assert res.outcome == 1.0 and script.requests[-1]["messages"][0]["content"].startswith("Q=Which city?")


@pytest.mark.parametrize("text,msg", [
    ("{question} {response}", "missing placeholder.*correct_answer"),
    ("{question} {response} {correct_answer} {gold}", "unknown placeholder.*gold"),
    ("{response} {correct_answer} {", "bad template"),
])
def test_bad_prompt_files_fail_with_one_line(tmp_path: Path, text: str, msg: str) -> None:
    f = tmp_path / "j.txt"
    f.write_text(text)
    with pytest.raises(ValueError, match=msg) as e:
        load_judge_template(f)
    assert str(f) in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ValueError, match="No such file"):
        load_judge_template(tmp_path / "missing.txt")
