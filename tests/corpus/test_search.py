import random
from pathlib import Path

import pytest

from longtracerl.corpus.base import DocumentNotFound, SearchBackend
from longtracerl.corpus.docstore import DocStore, build_docstore
from longtracerl.corpus.readers import read_corpus
from longtracerl.corpus.search import TantivySearch, build_index, get_search_backend, query_terms


@pytest.fixture(scope="module")
def wiki(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> TantivySearch:
    d = tmp_path_factory.mktemp("wiki")
    build_docstore(d / "ds", (doc for doc, _ in read_corpus(shared_data / "2wiki_corpus_6119.json")))
    build_index(d / "ix", DocStore.open(d / "ds"), progress=False)
    return TantivySearch.open(d / "ix", d / "ds")


def test_protocol_and_relevance_on_real_wikipedia_paragraphs(wiki: TantivySearch) -> None:
    assert isinstance(wiki, SearchBackend)
    rng = random.Random(0)
    docs = list(wiki.docstore)
    sample = rng.sample(docs, 40)
    top1 = 0
    for d in sample:
        query = " ".join(d.text.split()[:12])  # the opening words of a real paragraph
        hits = wiki.search(query, 5)
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
        assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))
        top1 += hits[0].doc_id == d.doc_id
    assert top1 >= 34  # BM25 finds the paragraph its own words come from


def test_title_query_and_snippet(wiki: TantivySearch) -> None:
    hit = wiki.search("Teutberga queen of Lotharingia", 3)[0]
    assert hit.title == "Teutberga" and "Lotharingia" in hit.snippet


HOSTILE = ['"', '"unbalanced', "a:b", "title:x body:y", "(((", ")", "AND", "OR NOT AND", "NOT", "*", "?", "~2",
           "^3", "a^b", "[1 TO 5]", "{x}", "\\", "/", "+-&&||!", "", "   ", "\n\t", "x" * 10_000,
           " ".join(["word"] * 5000), "東京 日本の首都", "Москва", "القاهرة", "🙂🙂", "\x00\x01", "'; DROP TABLE docs; --"]


@pytest.mark.parametrize("q", HOSTILE)
def test_no_query_can_break_the_engine(wiki: TantivySearch, q: str) -> None:
    hits = wiki.search(q, 5)
    assert isinstance(hits, list) and len(hits) <= 5


def test_fuzzed_random_unicode_queries_never_raise(wiki: TantivySearch) -> None:
    rng = random.Random(1234)
    alphabet = [chr(c) for c in range(32, 0x3000, 7)] + list(':"()[]{}*?~^\\/+-!&|')
    for _ in range(300):
        q = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        wiki.search(q, 3)
    assert len(query_terms("a " * 1000)) == 1 and len(query_terms(" ".join(f"w{i}" for i in range(500)))) == 64


def test_open_truncates_and_says_so_and_missing_is_clear(wiki: TantivySearch) -> None:
    d = next(iter(wiki.docstore))
    full = wiki.open(d.doc_id)
    assert full.text == d.text and not full.truncated
    cut = wiki.open(d.doc_id, max_chars=10)
    assert cut.text == d.text[:10] and cut.truncated and cut.n_chars_total == len(d.text)
    with pytest.raises(DocumentNotFound):
        wiki.open("no-such-id")


def test_batch_search_equals_single(wiki: TantivySearch) -> None:
    qs = ["queen", "film director", "river", "born in Paris", "album", "novel"]
    assert wiki.batch_search(qs, 4) == [wiki.search(q, 4) for q in qs]


def test_registry(wiki: TantivySearch) -> None:
    b = get_search_backend("tantivy", index_dir=wiki.index_dir, docstore=wiki.docstore)
    assert b.search("queen", 1) == wiki.search("queen", 1)
    with pytest.raises(ValueError, match="unknown search backend"):
        get_search_backend("nope")
