"""Hand-made cases for how a clue reads (issue 20, the reading flaws): masks only where a pronoun is English
(``glued_mask``), pieces cut at clause ends (``cut_phrase``), lifespans dropped before blurring, other chain
entities written as a stand-in, and type words that keep a proper name whole. Each case failed before its fix."""

from __future__ import annotations

import pytest

from longtracerl.records import Document, Hop
from longtracerl.synth.questions.clues import ClueConfig, ClueContext
from longtracerl.synth.questions.hygiene import KINDS, problem
from longtracerl.synth.questions.obfuscate import drop_date_parens
from longtracerl.synth.questions.phrasing import page_type, render_clue, stand_in
from longtracerl.synth.questions.pieces import pieces
from longtracerl.synth.questions.template import _DictStore


@pytest.mark.parametrize(("clue", "kind"), [
    ("Harry Owens wrote the song in the 1930s for his daughter this entity, who was born the next day", "glued_mask"),
    ("a painter who murders civilians and uses their this entity as red paint", "glued_mask"),
    ("It was given the nickname this entity by the medieval chronicler", "glued_mask"),
    ("son of another entity, this entity of Eu and this entity", "glued_mask"),
    ("The landlocked this entity -- the larger of the two territories", "glued_mask"),
    ("Modern this entity was founded in the 1920s from the remnants", "glued_mask"),
    ("a Soviet, Armenian and another entity actor of the stage", "glued_mask"),
    ("it, was sovereign it from the 1050s until the 1100s", "glued_mask"),
    ("The film was remade in the 2000s as 2001 this entity", "glued_mask"),
    ("for his daughter it, who was born the next day", "glued_mask"),  # the rendered form is judged the same
    ("sister of another entity d Alvernha and wife of Eracle III", "partial_mask"),  # a particle between
    ("sister of another entity d'Alvernha and wife of Eracle III", "partial_mask"),
    ("the 1960s was an American journalist and writer best", "cut_phrase"),
    ("is a Hong Kong film director", "cut_phrase"),
    ("was previously ruled by local chieftains", "cut_phrase"),
    ("one of the most prosperous and stable countries in central", "cut_phrase"),
    ("the Tokugawa shogunate, a military-led", "cut_phrase"),
    ("It is a 1930s American pre-Code musical film directed", "cut_phrase"),
    ("the dancers of political turmoil interspersed with", "cut_phrase"),
    ("to in the wake of violence has not materialized", "cut_phrase"),
    ("the 1960s was an American journalist and writer", "blur_artefact"),  # a lifespan's decade before its verb
    ("the 1900s – the 1970s, known professionally as it and nicknamed Duke", "blur_artefact"),
])
def test_each_new_reading_rejection_is_named(clue: str, kind: str) -> None:
    bad = problem(clue)
    assert kind in KINDS and bad is not None and bad[0] == kind, bad


@pytest.mark.parametrize("clue", [
    "It is a 1930s musical film about a singing newspaper reporter",
    "Originally a Dutch colony in the 17th century, by the 1810s this entity had become a British possession",
    "in the 1970s provoked Tanzania to invade this entity, depose Amin",  # an object after a verb is English
    "Turks and Afghans invaded this entity and established the Delhi Sultanate",
    "Pitcairn islanders were relocated to this entity because of overcrowding",
    "Upon this entity's death in the 1140s, his son was chosen as successor",
    "It is a 1960s splatter film directed by someone and starring a Playboy model",
    "In the 1390s, it was absorbed into a union with another country",
    "It, a sparsely populated country known for its rainforests, is one of the most stable",
    "the British began to permanently settle this entity in the 1780s",  # a bare verb after an adverb or "to"
    "Settlers arrived in the 1830s and wanted to farm it along the river",
    "it was occupied by the Central Powers during World War I",  # a numeral, not the pronoun
    "a 1940s drama film directed by another entity starring Marlene Dietrich",  # a participle after the mask
])
def test_english_masks_and_whole_clauses_pass(clue: str) -> None:
    assert problem(clue) is None


def test_lifespan_and_date_parentheses_are_dropped_before_blurring() -> None:
    assert drop_date_parens("Herbert Asbury (1889–1965) was an American journalist") == \
        "Herbert Asbury was an American journalist"
    assert drop_date_parens("Raoul Walsh( March 11, 1887 – December 31, 1980) was") == "Raoul Walsh was"
    assert drop_date_parens("Armen (born 3 October 1935 in Yerevan) is an actor") == "Armen is an actor"
    assert drop_date_parens("the Zhou (1046-221 B.C.) dynasties") == "the Zhou dynasties"
    for keep in ("the EC (now the EU) and NATO", "the war (in which 1,200 died) ended"):
        assert drop_date_parens(keep) == keep


def test_pieces_begin_and_end_at_clause_boundaries() -> None:
    s = ("She directed films in many genres, situation comedies, murder mysteries and westerns, and she was the "
         "only woman to direct an episode of the original series")
    got = pieces(s, 28, clauses=True)
    assert "situation comedies, murder mysteries and westerns" not in got  # a list item is no clause start
    assert "and she was the only woman to direct an episode of the original series" not in got  # lead trimmed
    assert "she was the only woman to direct an episode of the original series" in got
    for p in pieces(s, 28, clauses=True, short=True):
        assert s.endswith(p) or f"{p}," in s, p  # every piece ends at a clause end
    date = "Harry Owens wrote the song on October 20, 1937, for his daughter"
    assert "Harry Owens wrote the song on October 20, 1937" in pieces(date, 28, clauses=True)  # a date's comma
    long = " ".join(["The harbour town traded salt and amber with the northern coast"] * 2) + ", and it grew"
    assert pieces(long, 12) == []  # no whole opening clause fits: never cut at a word count


def _ctx(doc: Document) -> ClueContext:
    from longtracerl.corpus.stats import MemoryTermStats

    filler = [Document(doc_id=f"f{i}", title=f"F{i}", text=f"Village {i} has a mill and a market.") for i in range(20)]
    docs = {d.doc_id: d for d in (doc, *filler)}
    return ClueContext(_DictStore(docs), config=ClueConfig(), stats=MemoryTermStats(docs.values()))


def test_clue_pieces_drop_lifespans_and_write_other_entities_as_stand_ins() -> None:
    d = Document(doc_id="w", title="Raoul Walsh", text="Raoul Walsh (March 11, 1887 – December 31, 1980) was an "
                 "American film director who shot westerns with Gary Cooper. He directed the swashbuckler Thief of "
                 "Bagdad, starring Douglas Fairbanks and Anna May Wong.")
    ctx = _ctx(d)
    got = ctx.clue_sentences(Hop(entity_id="w", title="Raoul Walsh", doc_id="w"), ["Raoul Walsh", "Walsh"], [],
                             windows=True, masked_other=["Gary Cooper", "Cooper", "Douglas Fairbanks"],
                             stand_ins={"Gary Cooper": "someone", "Cooper": "someone", "Douglas Fairbanks": "someone"})
    assert "this entity was an American film director who shot westerns with someone" in got, got
    assert not any("1880s" in g or "another entity" in g for g in got), got
    assert set(got) & ctx.with_stand_in  # the writer takes these only when nothing else pins the hop
    assert render_clue("a union with another entity") == "a union with another one"


def test_stand_ins_name_a_type_never_a_name() -> None:
    assert stand_in("American film director") == "someone"
    assert stand_in("1960s splatter film") == "another film"
    assert stand_in("country") == "another country"
    assert stand_in("entity") == stand_in(None) == "another one"


def test_type_words_keep_a_proper_name_whole() -> None:
    def t(text: str) -> str | None:
        return page_type(Document(doc_id="x", title="X", text=text))

    assert t("Fat Choi (Literal Title: 95 Wise Guys) is a 1995 Hong Kong triad film directed by Wong Jing.") == \
        "1990s Hong Kong triad film"  # was "1990s Kong triad film"
    assert t("Ann Bell is an American film director.") == "American film director"
    assert t("Dune Sea is a 1968 epic science fiction film directed by Ann Bell.") == "1960s science fiction film"


def test_a_one_word_name_is_masked_only_where_capitalised() -> None:
    from longtracerl.synth.questions.names import contains_any, mask

    names = ["Color Me Blood Red", "Blood", "Never Fear", "Never"]
    text = "he uses their blood as red paint and would never stop; Blood Feast; Never Fear is a film"
    assert mask(text, names) == ("he uses their blood as red paint and would never stop; this entity Feast; "
                                 "this entity is a film")  # was "their this entity", "would this entity stop"
    assert contains_any("their blood as red paint", names) is None and contains_any("Blood Feast", names) == "Blood"
    assert contains_any("the black lion", ["lion"]) == "lion"  # a lower-case answer is found in any case


def test_a_piece_never_ends_before_an_aside_nor_cuts_through_one() -> None:
    s = ("In the 1600s, after decades of civil warfare, the Tokugawa shogunate (a military-led, dynastic government) "
         "ushered in a long period of stability, including the EC (now the EU) and NATO")
    got = pieces(s, 40, clauses=True, short=True)
    assert "In the 1600s, after decades of civil warfare, the Tokugawa shogunate" not in got  # its verb follows
    assert not any(p.count("(") != p.count(")") for p in got), got
    assert "after decades of civil warfare" in got
    acronym = "It was a founding member of the Academy of Motion Picture Arts and Sciences (AMPAS) and a painter"
    assert "It was a founding member of the Academy of Motion Picture Arts and Sciences (AMPAS)" in \
        pieces(acronym, 40, clauses=True)  # a bracket closing the run is kept; no verb follows it
