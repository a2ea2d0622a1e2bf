"""Text analyzers of the BM25 index: how titles, texts and queries become terms.

``english`` (the default) splits on non-alphanumerics, drops tokens over 40 bytes, lowercases, removes
English stopwords and applies the Snowball English stemmer (all tantivy's own Rust filters). ``raw`` is
the analyzer of indexes written before analyzers were recorded (no stopwords, no stemming): keep it for
corpora in scripts or languages an English stemmer would damage. Any other language tantivy can stem
(``french``, ``german``, ...) gets its stemmer and, where tantivy has one, its stopword list.

Measured on 500 2WikiMultihopQA questions over their 3,347 pages (``benchmarks/bench_search_quality.py``,
figures in docs/corpus.md): stemming and stopwords each add little alone; together with the title also
indexed in the text field (title field boosted 0.5x instead of 2x) the default beats bm25s with
stemming and stopwords on recall@5, recall@10 and all-supporting@10.

The analyzer an index was built with is recorded in its metadata; a search that asks for another one is
refused (``AnalyzerMismatch``), because stemmed query terms never match unstemmed index terms (or the
reverse) and the search would silently find almost nothing.
"""

from __future__ import annotations

from functools import cache

import tantivy

DEFAULT_ANALYZER = "english"
LEGACY_ANALYZER = "raw"  # what an index without a recorded analyzer was built with
MAX_TOKEN_BYTES = 40

STEM_LANGUAGES = ("arabic", "danish", "dutch", "english", "finnish", "french", "german", "greek", "hungarian",
                  "italian", "norwegian", "portuguese", "romanian", "russian", "spanish", "swedish", "tamil",
                  "turkish")
STOPWORD_LANGUAGES = ("danish", "dutch", "english", "finnish", "french", "german", "hungarian", "italian",
                      "norwegian", "portuguese", "russian", "spanish", "swedish")
ANALYZERS = (LEGACY_ANALYZER, *STEM_LANGUAGES)


class AnalyzerMismatch(ValueError):
    """An index queried with another analyzer than the one it was built with."""


def check_analyzer(name: str) -> str:
    """``name`` if it is a known analyzer, else a ValueError listing the known ones."""
    if name not in ANALYZERS:
        raise ValueError(f"unknown analyzer {name!r}; known: {', '.join(ANALYZERS)}")
    return name


def _builder() -> tantivy.TextAnalyzerBuilder:
    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.remove_long(MAX_TOKEN_BYTES)).filter(tantivy.Filter.lowercase()))


@cache
def build_analyzer(name: str, *, stem: bool = True, stopwords: bool = True) -> tantivy.TextAnalyzer:
    """The tantivy analyzer called ``name`` (``stem``/``stopwords`` switch its filters off, for the
    benchmark's ablations and for snippets)."""
    check_analyzer(name)
    b = _builder()
    if name != LEGACY_ANALYZER:
        if stopwords and name in STOPWORD_LANGUAGES:
            b = b.filter(tantivy.Filter.stopword(name))
        if stem:
            b = b.filter(tantivy.Filter.stemmer(name))
    return b.build()


def tokenizer_name(name: str) -> str:
    """The tokenizer name the index's text fields are declared with: tantivy's built-in ``default`` for
    ``raw`` (so indexes from before this option read unchanged), a registered ``lt_<name>`` otherwise."""
    return "default" if check_analyzer(name) == LEGACY_ANALYZER else f"lt_{name}"


def register(index: tantivy.Index, name: str) -> None:
    """Make ``index`` know the analyzer (tantivy does not persist custom tokenizers: register on every open)."""
    if name != LEGACY_ANALYZER:
        index.register_tokenizer(tokenizer_name(name), build_analyzer(name))


def snippet_key(raw_token: str, stem: str) -> str:
    """What a snippet looks for in a page's lowercased text for one query term: the common prefix of the
    word and its stem (``country``/``countri`` -> ``countr``, which finds "countries" too), or the word."""
    n = 0
    for a, b in zip(raw_token, stem, strict=False):
        if a != b:
            break
        n += 1
    return raw_token[:n] if n >= 3 else raw_token
