"""The tagged-action parser: lenient on what small models write, clear errors on what it cannot use."""

import pytest

from longtracerl.synth.agent.text_protocol import ParseError, parse_action


def test_closed_tags_and_thought() -> None:
    a = parse_action("I need the founder.\n<search>Les Films du Losange founder</search> trailing")
    assert (a.name, a.arg, a.thought) == ("search", "Les Films du Losange founder", "I need the founder.")
    assert a.raw == "<search>Les Films du Losange founder</search>"


def test_unclosed_tag_from_stop_sequence_and_case() -> None:
    # the server stops at "</open>" and omits it
    assert parse_action("<OPEN> doc-17 ").arg == "doc-17"
    a = parse_action("<search>first query\n<observation>made up</observation>")
    assert a.arg == "first query"


def test_answer_cite_variants() -> None:
    a = parse_action('<answer cite="d1, d2">Paris</answer>')
    assert (a.name, a.arg, a.cited) == ("answer", "Paris", ["d1", "d2"])
    assert parse_action("<answer cite='x;y'>Lyon").cited == ["x", "y"]
    assert parse_action("<answer cite=d9>Lyon</answer>").cited == ["d9"]
    b = parse_action("<answer>Lyon <cite>a, b</cite></answer>")
    assert (b.arg, b.cited) == ("Lyon", ["a", "b"])
    assert parse_action("<answer>Lyon</answer>").cited == []


def test_first_action_wins() -> None:
    a = parse_action("<open>d1</open><answer cite='d1'>x</answer>")
    assert (a.name, a.arg) == ("open", "d1")


def test_line_fallback() -> None:
    assert (
        parse_action('Action: search("Eric Rohmer")').name,
        parse_action('search("Eric Rohmer")').arg,
    ) == ("search", "Eric Rohmer")
    assert parse_action("answer: 1962").arg == "1962"


@pytest.mark.parametrize(
    "bad", ["", "   ", "I think the answer is Paris.", "<search></search>", "<open>  </open>"]
)
def test_unusable_replies_raise_parse_error(bad: str) -> None:
    with pytest.raises(ParseError):
        parse_action(bad)
