import asyncio

import pytest

from longtracerl.reward import (
    ChoiceLetter,
    Contains,
    ExactMatch,
    LongTraceReward,
    RewardConfig,
    TokenF1,
    extract_choice,
    get_outcome_scorer,
)


def score(scorer, answer: str, gold: str, aliases=None):  # type: ignore[no-untyped-def]
    return asyncio.run(scorer.score(answer, gold, aliases=aliases))


def test_exact_match_normalizes_case_punctuation_articles_accents() -> None:
    assert score(ExactMatch(), "<think>hmm</think> The Zürich.", "zurich").correct
    assert not score(ExactMatch(), "Zurich, Switzerland", "Zurich").correct


def test_contains_is_token_bounded_and_uses_aliases() -> None:
    assert score(Contains(), "It is Lyon, in France.", "Lyon").correct
    assert not score(Contains(), "It is Lyonnais.", "Lyon").correct
    assert score(Contains(), "The USA.", "United States", aliases=["USA"]).correct


def test_empty_final_answer_scores_zero() -> None:
    r = score(Contains(), "<think>Lyon</think>   ", "Lyon")
    assert r.score == 0.0 and r.details["reason"] == "empty_answer"


def test_token_f1() -> None:
    r = score(TokenF1(), "the river Seine", "Seine river")
    assert r.correct and r.score == 1.0
    graded = score(TokenF1(graded=True), "Seine", "river Seine")
    assert graded.score == pytest.approx(2 / 3)


def test_choice_letter() -> None:
    assert extract_choice("blah. The correct answer is (C)") == "C"
    assert extract_choice("I think B") == "B"
    assert score(ChoiceLetter(), "The correct answer is (B).", "B").correct
    assert not score(ChoiceLetter(), "The correct answer is (A).", "(B)").correct


def test_registry() -> None:
    assert get_outcome_scorer("f1", threshold=0.9).threshold == 0.9  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="unknown outcome scorer 'nope'"):
        get_outcome_scorer("nope")


def test_long_trace_reward_format_gate_and_group() -> None:
    rw = LongTraceReward(RewardConfig())
    res = rw.score_group(
        ["<think>a</think>Lyon and Paris", "<think>a</think>Paris, not it", "<think>cut off", "Lyon"],
        "Lyon", ["Paris", "Lyon"], truncated=[False, False, False, True],
    )
    assert [r.outcome for r in res] == [1.0, 0.0, 0.0, 0.0]
    assert res[0].reward == pytest.approx(1.0)
    assert res[1].reward == 0.0 and res[1].rubric_raw == 0.5  # positive-only: listed entities, wrong answer
    assert res[2].details["format_gate"] == "no_final_answer"
    assert res[3].details["format_gate"] == "truncated" and res[3].reward == 0.0
    gate_off = LongTraceReward(RewardConfig(format_gate=False)).score_group(["Lyon"], "Lyon", ["Lyon"], truncated=[True])
    assert gate_off[0].reward == 1.0


def test_score_one_released_semantics() -> None:
    rw = LongTraceReward()
    r = rw.score_one("Lyon, not Paris", "Lyon", ["Paris", "Lyon", "Rhone", "France"], rubric_reward_ratio=0.5)
    assert r.reward == pytest.approx(0.5 * 1 + 0.5 * 0.5)
    wrong = rw.score_one("Paris", "Lyon", ["Paris", "Lyon"], rubric_reward_ratio=0.5)
    assert wrong.reward == pytest.approx(0.25)  # released per-request: rubric paid; positive-only is the group step


def test_score_group_works_inside_a_running_loop() -> None:
    async def inner() -> float:
        return LongTraceReward().score_group(["Lyon"], "Lyon", ["Lyon"])[0].reward

    assert asyncio.run(inner()) == 1.0


def test_config_from_yaml(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "r.yaml"
    p.write_text("reward:\n  eta: 0.1\n  strategy: all\n  rubric_mode: reference\n")
    c = RewardConfig.from_yaml(p)
    assert (c.eta, c.strategy, c.rubric_mode) == (0.1, "all", "reference")
    p.write_text("eta: 2\n")
    with pytest.raises(ValueError, match="eta"):
        RewardConfig.from_yaml(p)
