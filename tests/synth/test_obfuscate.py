"""Blurred clues: dates become decades, numbers are rounded, and the fit that pins hops still recognises the page."""

from __future__ import annotations

import pytest

from longtracerl.records import Chain, Document, Hop
from longtracerl.synth.questions.clues import mask
from longtracerl.synth.questions.obfuscate import blur, page_terms
from longtracerl.synth.questions.phrasing import CLUE_LEADS
from longtracerl.synth.questions.template import TemplateQuestionWriter, relation_phrase


@pytest.mark.parametrize(("raw", "want"), [
    ("it became a sovereign state in 1806", "it became a sovereign state in the 1800s"),
    ("ruled (1578-1603) as sultan", "ruled (from the 1570s to the 1600s) as sultan"),
    ("occupied it from 1915 to 1934", "occupied it from the 1910s to the 1930s"),
    ("fought between 1982 and 1989", "fought in the 1980s"),
    ("signed on 12 March 1795", "signed in the 1790s"),
    ("about 42 ethnic groups", "about 40 ethnic groups"),
    ("a population of 3,287,263", "a population of about 3.3 million"),
    ("35.4% of the land", "about 35% of the land"),
    ("Christopher COLUMBUS arrived", "Christopher Columbus arrived"),
    ("joined the this entity and Aruba", "joined this entity and Aruba"),
    ("Walsh( March 11, 1887 – December 31, 1980) was", "Walsh (the 1880s – the 1980s) was"),
    ("one of the 50 states", "one of the 50 states"),  # "the about 50 states" would be no English
])
def test_blur_hides_exact_dates_and_numbers(raw: str, want: str) -> None:
    assert blur(raw) == want


@pytest.mark.parametrize("raw", [
    "UN Security Council Resolution 1244",  # a 4-digit number nothing marks as a year is left alone
    "the G-20 and NATO",  # acronyms and numbers inside names stay
    "settled around 2000 B.C.",  # an era date is rough already
    "its 3 children",  # small counts stay exact
])
def test_blur_leaves_what_is_not_a_date_or_a_measure(raw: str) -> None:
    assert blur(raw) == raw


def test_page_terms_let_a_blurred_clue_fit_its_own_page() -> None:
    page = "The duchy joined the confederation in 1815 with 42 villages."
    clue = blur("joined the confederation in 1815 with 42 villages")
    assert "1815" not in clue and "42" not in clue
    from longtracerl.synth.questions.text import terms

    assert set(terms(clue)) <= page_terms(page)


def test_possessive_mask_keeps_its_possessive() -> None:
    assert mask("Iraq's status and Iraq\u2019s army", ["Iraq"]) == "this entity's status and this entity's army"


def test_template_question_quotes_no_sentence_of_any_page() -> None:
    """Every clue of a written question is blurred: the dates of the pages are nowhere in the question."""
    a = Document(doc_id="a", title="Arvenia", text="Arvenia is a duchy of the northern plains. In 1806 Arvenia "
                 "became sovereign after long wars with its neighbours, and it joined the Linden League in 1815.")
    b = Document(doc_id="b", title="Belmora", text="Belmora is a port republic on the coast. Belmora was "
                 "founded by fishermen in 1642, who built 37 lighthouses along the rocky shore of the bay.")
    c = Document(doc_id="c", title="Corvale", text="Corvale is a mountain canton. Corvale mines silver and "
                 "copper, and its 1,250 miners went on strike in 1921 for shorter shifts.")
    docs = {d.doc_id: d for d in (a, b, c)}
    chain = Chain(chain_id="c0", seed=0, hops=[Hop(entity_id="a", title="Arvenia", doc_id="a"),
                                              Hop(entity_id="b", title="Belmora", doc_id="b", relation="trades with")])
    draft = TemplateQuestionWriter().draft(chain, docs)
    assert not hasattr(draft, "reason"), draft
    for year in ("1806", "1815", "1642", "37 lighthouses"):
        assert year not in draft.question  # type: ignore[union-attr]
    assert any(lead in draft.question for lead in CLUE_LEADS)  # type: ignore[union-attr]
    # the target is named by its page's type words ("Belmora is a port republic on the coast")
    assert relation_phrase(chain.hops[1], "port republic") == "go to a port republic it trades with"
    assert "a port republic it trades with" in draft.question  # type: ignore[union-attr]
