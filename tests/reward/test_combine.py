import pytest

from longtracerl.reward import combine_group, combine_one, normalize_group


def test_worked_example_of_the_paper() -> None:
    # correct, 4 of 5 entities, group max 1.0 -> 0.7 * 1.0 + 0.3 * 0.8 = 0.94
    rewards = combine_group([1, 1, 0], [0.8, 1.0, 0.6])
    assert rewards[0] == pytest.approx(0.94)
    assert rewards[1] == pytest.approx(1.0)
    assert rewards[2] == 0.0  # wrong answer under positive_only


def test_normalization_uses_the_max_over_all_responses() -> None:
    # the wrong answer holds the group max: correct answers are normalized by it all the same
    assert normalize_group([0.2, 0.4, 0.0]) == [0.5, 1.0, 0.0]
    assert combine_group([1, 0], [0.2, 0.4]) == pytest.approx([0.7 + 0.3 * 0.5, 0.0])
    assert normalize_group([0.0, 0.0]) == [0.0, 0.0]
    assert combine_group([1, 1], [0.2, 0.4], normalize=False) == pytest.approx([0.76, 0.82])


def test_strategies() -> None:
    o, r = [1, 0], [0.5, 1.0]
    assert combine_group(o, r, strategy="all") == pytest.approx([0.7 + 0.15, 0.3])
    assert combine_group(o, r, strategy="negative_only") == pytest.approx([1.0, 0.3])
    assert combine_group(o, r, strategy="outcome_only") == [1.0, 0.0]
    assert combine_group(o, r, eta=0.0) == [1.0, 0.0]
    # LongRLVR baseline: r_ans + eta*F + (1-eta)*r_ans*F
    assert combine_group(o, r, strategy="longrlvr", f_beta=[0.5, 0.25]) == pytest.approx(
        [1 + 0.3 * 0.5 + 0.7 * 0.5, 0.3 * 0.25]
    )


def test_errors_name_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        combine_group([1, 0], [0.5])
    with pytest.raises(ValueError, match="unknown strategy"):
        combine_one(1, 1, strategy="bogus")  # type: ignore[arg-type]


def test_undecided_outcome_is_left_out_of_the_group() -> None:
    # outcome None = the judge could not decide: its rubric (1.0) must not set the max; max of the rest is 0.5
    assert combine_group([1, None, 1], [0.5, 1.0, 0.25]) == pytest.approx([1.0, None, 0.85])
    assert combine_group([None, None], [0.5, 1.0]) == [None, None]
    assert combine_group([1, None], [0.2, 0.9], normalize=False) == pytest.approx([0.76, None])
    assert combine_group([1, None], [0.5, 1.0], strategy="longrlvr", f_beta=[0.5, 0.0]) == pytest.approx(
        [1 + 0.3 * 0.5 + 0.7 * 0.5, None])
