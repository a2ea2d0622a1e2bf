"""Each benchmark's scoring rule on its edge cases (prefix missing/only, unicode, empty, unfinished
reasoning, bracketless and lower-case letters, judge replies)."""

from __future__ import annotations

from difflib import SequenceMatcher

import pytest

from longtracerl.eval.bench_rules import (
    bootstrap_ci,
    choice_letter,
    final_answer,
    frames_correct,
    longbench_v2_choice,
    mrcr_bin,
    mrcr_final,
    mrcr_grade,
)
from longtracerl.reward.verdicts import aa_lcr_verdict

P = "a1B2c3"


class TestMRCR:
    def test_prefix_missing_scores_zero_even_if_answer_matches(self) -> None:
        assert mrcr_grade("the poem", P + "the poem", P) == 0.0
        assert mrcr_grade(" " + P + "the poem", P + "the poem", P) == 0.0  # nothing is stripped

    def test_exact_match_is_one(self) -> None:
        assert mrcr_grade(P + "the poem\nline two", P + "the poem\nline two", P) == 1.0

    def test_prefix_only_compares_empty_with_answer(self) -> None:
        assert mrcr_grade(P, P + "abc", P) == 0.0
        assert mrcr_grade(P, P, P) == 1.0  # both empty after the prefix: difflib says 1.0

    def test_ratio_is_difflib_after_removing_prefix_from_both(self) -> None:
        resp, ans = P + "The frogs sing", P + "The frog sings"
        want = SequenceMatcher(None, "The frogs sing", "The frog sings").ratio()
        assert mrcr_grade(resp, ans, P) == pytest.approx(want)
        assert 0 < want < 1

    def test_case_and_unicode_count_as_written(self) -> None:
        assert mrcr_grade(P + "Éte", P + "Éte", P) == 1.0
        assert mrcr_grade(P + "ete", P + "Éte", P) < 1.0
        assert mrcr_grade("ÄÖ" + "été", "ÄÖ" + "été", "ÄÖ") == 1.0

    def test_empty_response(self) -> None:
        assert mrcr_grade("", P + "x", P) == 0.0

    def test_reasoning_removed_before_grading(self) -> None:
        raw = f"<think>the user wants {P}</think>\n\n{P}poem"
        assert mrcr_grade(mrcr_final(raw), P + "poem", P) == 1.0
        assert mrcr_final(f"<think>never closed {P}poem") == ""  # reasoning without </think>: nothing to grade
        assert mrcr_final(f"\n{P}x") == f"\n{P}x"  # no reasoning: exactly as written
        assert mrcr_final(f"\n{P}x", reasoning_field="thought") == f"{P}x"

    def test_bins(self) -> None:
        assert mrcr_bin(4097) == "(4096, 8192]"
        assert mrcr_bin(8192) == "(4096, 8192]"
        assert mrcr_bin(8193) == "(8192, 16384]"
        assert mrcr_bin(1048576) == "(524288, 1048576]"
        assert mrcr_bin(100) == "<=4096"


class TestLongBenchV2:
    @pytest.mark.parametrize("text,want", [
        ("The correct answer is (B)", "B"),
        ("reasoning... The correct answer is C.", "C"),          # bracketless form
        ("**The correct answer is (D)**", "D"),                  # asterisks removed first
        ("The correct answer is **(A)**", "A"),
        ("The correct answer is (A). Wait: The correct answer is (B)", "A"),  # first match, as published
        ("The correct answer is B, no, The correct answer is (C)", "C"),  # bracketed form is searched first
        ("the correct answer is (b)", None),                    # case-sensitive, as published
        ("The correct answer is (b)", None),                    # lower-case letter: no match
        ("Answer: B", None),
        ("", None),
        ("The correct answer is (E)", None),
    ])
    def test_extraction(self, text: str, want: str | None) -> None:
        assert longbench_v2_choice(text) == want


class TestChoiceLetter:
    @pytest.mark.parametrize("text,want", [
        ("The final answer is C", "C"),
        ("the answer is (b)", "B"),                 # lower-case letter
        ("Answer: d", "D"),
        ("**Answer:** (A)", "A"),
        ("I think (A) fits, but the answer is B", "B"),
        ("After checking, (C) is right.", "C"),      # bracketed letter
        ("B", "B"),                                  # a bare letter reply
        ("b.", "B"),
        ("A study shows nothing.", None),            # a capital in prose is not a choice
        ("", None),
        ("The answer is E", None),                   # not among the letters
    ])
    def test_default_letters(self, text: str, want: str | None) -> None:
        assert choice_letter(text) == want

    def test_extra_letters(self) -> None:
        assert choice_letter("The answer is E", "ABCDE") == "E"
        assert choice_letter("the final answer is e.", "ABCDE") == "E"


class TestJudges:
    def test_aa_lcr_starts_with_correct(self) -> None:
        # the rule lives in reward.verdicts (shared with the reward's judge); eval reads AA-LCR replies with it
        assert aa_lcr_verdict("CORRECT") is True
        assert aa_lcr_verdict("  correct - the numbers agree") is True
        assert aa_lcr_verdict("**CORRECT**") is True  # markdown around the verdict: still the verdict
        assert aa_lcr_verdict("INCORRECT") is False
        assert aa_lcr_verdict("The answer is CORRECT") is None  # must start with it; no verdict, not a wrong answer
        assert aa_lcr_verdict("") is None
        assert aa_lcr_verdict("<think>is it INCORRECT? no</think>\nCORRECT") is True
        assert aa_lcr_verdict("<think>CORRECT") is None  # unfinished reasoning: no decision

    def test_frames_true_false(self) -> None:
        assert frames_correct("The model names the same person.\nDecision: TRUE") is True
        assert frames_correct("Decision: **FALSE**") is False
        assert frames_correct("first true, on reflection: false") is False  # the last decision counts
        assert frames_correct("no decision here") is None
        assert frames_correct("") is None
        assert frames_correct("<think>TRUE?</think>") is None


class TestReasoningRemoval:
    def test_after_last_close(self) -> None:
        assert final_answer("<think>a</think>x</think> final ") == ("final", len("<think>a</think>x"))

    def test_unfinished_reasoning_is_empty(self) -> None:
        assert final_answer("<think>long thoughts")[0] == ""

    def test_no_tags_is_the_whole_text(self) -> None:
        assert final_answer("  plain  ") == ("plain", 0)

    def test_separate_reasoning_field_counts(self) -> None:
        assert final_answer("ans", reasoning_field="xyz") == ("ans", 3)


def test_bootstrap_ci_brackets_mean() -> None:
    vals = [0.0, 1.0] * 50
    lo, hi = bootstrap_ci(vals)
    assert lo < 0.5 < hi and hi - lo < 0.3
    assert bootstrap_ci([1.0]) == (1.0, 1.0)
    assert bootstrap_ci(vals) == bootstrap_ci(vals)  # seeded
