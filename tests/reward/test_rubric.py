import re
import warnings

import pytest

from longtracerl.reward import normalize_reference, rubric_score, split_think


def released_rubric(text: str, entities: list[str]) -> float:
    """The released algorithm written out plainly (per-entity normalization and substring test)."""

    def norm(s: str) -> str:
        return " ".join(re.findall(r"[a-zA-Z0-9_]+|[\u4e00-\u9fff]", s.lower()))

    return sum(norm(e) in norm(text) for e in entities) / len(entities)


CASES = [
    ("We went to a party in Paris.", ["art", "Paris", "London"]),
    ("Éric Rohmer directed it; Zürich was the city.", ["Eric Rohmer", "Zurich", "Éric Rohmer"]),
    ("東京は日本の首都です", ["東京", "大阪", "日本"]),
    ("New-York, NY; the_big apple!!", ["new york", "big apple", "the big"]),
    ("nothing here", ["", "!!", "x"]),
    ("A B C", ["a", "a", "b c", "c d"]),
]


@pytest.mark.parametrize(("text", "entities"), CASES)
def test_reference_mode_decides_exactly_like_the_released_algorithm(text: str, entities: list[str]) -> None:
    assert rubric_score(text, entities, mode="reference").score == pytest.approx(released_rubric(text, entities))


def test_reference_normalization_is_the_released_one() -> None:
    assert normalize_reference("Hello, World! Ça va? 東京x_y") == "hello world a va 東 京 x_y"


def test_reference_keeps_the_released_flaws() -> None:
    assert rubric_score("a party", ["art"], mode="reference").matched == ["art"]  # substring false hit
    assert rubric_score("Zurich", ["Zürich"], mode="reference").score == 0.0  # "z rich" not in "zurich"


def test_word_mode_needs_whole_tokens() -> None:
    assert rubric_score("We went to a party.", ["art"]).score == 0.0
    assert rubric_score("We saw the art.", ["art"]).score == 1.0
    assert rubric_score("Chinatown", ["China"]).score == 0.0


def test_word_mode_folds_accents_and_keeps_non_ascii_letters() -> None:
    r = rubric_score("Éric Rohmer lived in Zürich and Kraków.", ["Eric Rohmer", "Zurich", "Krakow", "Łódź"])
    assert r.matched == ["Eric Rohmer", "Zurich", "Krakow"]
    assert r.score == pytest.approx(3 / 4)
    assert rubric_score("Владимир Путин", ["владимир путин"]).score == 1.0


def test_word_mode_aliases_duplicates_and_empty_entities() -> None:
    r = rubric_score("The USA and the UK.", ["United States", "United Kingdom"],
                     aliases={"United States": ["USA", "U.S."], "United Kingdom": ["UK"]})
    assert r.score == 1.0
    assert rubric_score("Paris", ["Paris", "paris", "PARIS"]).n_entities == 1
    with pytest.warns(UserWarning, match="normalize to nothing"):
        r = rubric_score("Paris", ["Paris", "!!!", ""])
    assert r.n_entities == 1 and r.ignored == ["!!!", ""] and r.score == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert rubric_score("anything", []).score == 0.0


def test_cjk_characters_are_tokens() -> None:
    assert rubric_score("东京是日本的首都", ["日本"]).score == 1.0
    assert rubric_score("东京是日本的首都", ["大阪"]).score == 0.0


def test_only_final_answer_by_default_reasoning_on_request() -> None:
    text = "<think>Paris is the capital of France</think>The answer is Lyon."
    assert rubric_score(text, ["Paris", "Lyon"]).matched == ["Lyon"]
    assert rubric_score(text, ["Paris", "Lyon"], use_reasoning=True).matched == ["Paris", "Lyon"]
    # last </think> wins
    assert split_think("<think>a</think>b</think>c") == ("a</think>b", "c", True)
    assert split_think("<think>unfinished") == ("unfinished", "", False)
    assert split_think("plain answer") == ("", "plain answer", False)


def test_adjacent_entities_both_match() -> None:
    # overlapping padded patterns (" a " and " b ") share a space: both must be found
    assert rubric_score("x Paris Lyon y", ["Paris", "Lyon"]).score == 1.0


def test_many_entities_single_pass_agree_with_naive_word_matching() -> None:
    import random

    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(300)]
    text = " ".join(rng.choice(vocab) for _ in range(5000))
    ents = [" ".join(rng.choice(vocab) for _ in range(rng.randint(1, 2))) for _ in range(60)]
    padded = f" {text} "
    expected = [e for e in dict.fromkeys(ents) if f" {e} " in padded]
    assert rubric_score(text, ents).matched == expected


def test_unknown_mode_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown rubric mode"):
        rubric_score("x", ["x"], mode="fuzzy")  # type: ignore[arg-type]
