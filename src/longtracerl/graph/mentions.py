"""Title mentions that link names, not words: the mention edges of corpora without hyperlinks.

One Aho-Corasick pass per text (``ahocorasick_rs``, leftmost-longest, whole words) finds every entity title
and alias, and, in the same pass, the lower-case form of every title, so the corpus's own counts say how it
writes each title. Three rules then decide which matches are links (all counted in the graph's build counts):

- ``longer_name``: a match that is one part of a longer capitalised span ("Second" in "Second World War",
  "Republic" in "Federal Democratic Republic of Nepal", "Amazon" in "Amazon River") is a word of a name the
  corpus has no page for (a page for the whole span would have matched it, leftmost-longest), not a mention.
- ``sentence_start``: a single-word title matched only at sentence starts links only when the corpus
  mostly writes that word capitalised elsewhere ("Paris" yes; "Second", "Region" no).
- ``common_word``: a title whose lower-case form is what the corpus mostly writes ("city", "river",
  "second") is a common-word title. With ``common_words="skip"`` (default) it is not a mention pattern;
  with ``"keep"`` its edges are kept under the relation ``"mentions (common word)"``, which walks do not
  take (``WalkConfig.skip_relations``). Aliases, KILT anchors and triples still reach those pages.

The decisions need the whole corpus's counts, so matches are buffered (three int32 per document and
pattern) and decided after the pass: the texts are read once.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

COMMON_MENTION_RELATION = "mentions (common word)"
DROP_RULES = ("common_word", "sentence_start", "longer_name")
PARTICLES = frozenset({"of", "de", "del", "da", "di", "du", "van", "von", "der"})  # "Bank of England"
# words of address before a person's name ("King Bhumibol Adulyadej", "Sultan Bayezid II"): the name is still
# that person, so they do not make the span a longer name (a rule about person names, not a word list for
# the common-word decision, which comes from the corpus's counts)
HONORIFICS = frozenset({
    "King", "Queen", "Prince", "Princess", "Emperor", "Empress", "Sultan", "Tsar", "Czar", "Shah", "Pharaoh",
    "Pope", "Sir", "Dame", "Lord", "Lady", "President", "Chancellor", "Minister", "Senator", "Governor", "General",
    "Admiral", "Marshal", "Colonel", "Captain", "Dr", "Mr", "Mrs", "Ms", "Archduke", "Duke", "Duchess", "Count",
    "Countess", "Baron", "Bishop", "Archbishop", "Cardinal", "Rabbi", "Imam", "Caliph", "Khan", "Maharaja",
    "Kings", "Queens", "Emir", "Peshwa",
})
_SENTENCE_END = ".!?\n"
_OPENERS = " \t\"'(\u201c\u2018["
_MID, _START, _LONGER = 1, 2, 4  # occurrence kinds (bit mask per document and pattern)
# an initialism after a name ("Thomas Barnard JP DL MP", "Robert Vere Buxton DSO") is a post-nominal, not
# more of the name; a roman numeral is ("Louis XIV")
_POSTNOMINAL = re.compile(r"(?![IVXLCDM]+\b)[A-Z]{2,4}\b")
_NOT_WORDLIKE = re.compile(r"\d|\s[^a-z\s]")  # a digit, or a later word not starting lower-case
_OF_NAME = re.compile(r" +(\w+) +(?:the +)?[A-Z]")


class MentionConfig(BaseModel):
    """How title mentions become edges (``graph build --mentions``; ``graph.mentions`` in docs/graph.md)."""

    model_config = ConfigDict(extra="forbid")

    common_words: Literal["skip", "keep"] = Field(
        "skip", description="titles the corpus mostly writes in lower case: skip = not mention patterns; "
        "keep = edges labelled 'mentions (common word)', which walks do not take")
    names_only: bool = Field(True, description="apply the longer_name and sentence_start rules "
                             "(false: every whole-word match links, as before these rules)")
    min_title_len: int = Field(4, ge=1, description="shortest title or alias matched")


def _may_be_word(title: str) -> bool:
    """Could the corpus write this title as an ordinary word? One word, or sentence case ("Black hole",
    "Form of government"), without digits. Names in title case ("John Smith", "Page 12") are not counted,
    which keeps the lower-case patterns of the pass few."""
    return _NOT_WORDLIKE.search(title) is None


def _sentence_start(text: str, s: int) -> bool:
    """Is position ``s`` the first word of a sentence (or of the text, a line, a quote after one)?"""
    i = s - 1
    while i >= 0 and text[i] in _OPENERS:
        i -= 1
    return i < 0 or text[i] in _SENTENCE_END


def _word_before(text: str, s: int) -> tuple[str, int]:
    """The word right before ``s`` when only spaces separate them (else ""), and its start."""
    i = s
    while i > 0 and text[i - 1] == " ":
        i -= 1
    if i == s:
        return "", s
    j = i
    while j > 0 and (text[j - 1].isalnum() or text[j - 1] == "_"):
        j -= 1
    return text[j:i], j


def _of_name_after(text: str, e: int) -> bool:
    """Is ``text[:e]`` followed by a particle and a capitalised word ("Gulf of Guinea", "Lothair II of
    Lotharingia")? Such a match still links (a person "of" a place is that person), but it says nothing
    about whether the corpus writes the title as a name, so the common-word counts leave it out."""
    m = _OF_NAME.match(text, e)
    return m is not None and m.group(1) in PARTICLES


def in_longer_name(text: str, s: int, e: int) -> bool:
    """Is ``text[s:e]`` one part of a longer capitalised span? The next word is capitalised ("Amazon River"),
    or the previous one is, directly ("New Mexico") or across a particle ("Bank of England"). A previous word
    that is capitalised only because it starts the sentence does not count, nor does a word of address
    ("King Oswiu"); a following "of Place" does not either ("Lothair II of Lotharingia" is Lothair II).
    Written with plain string scans: it runs once per match of a corpus-wide pass."""
    n = len(text)
    if e < n and text[e] in " -":
        i = e + 1
        if text[e] == " ":
            while i < n and text[i] == " ":
                i += 1
        if i < n and text[i].isupper() and not _POSTNOMINAL.match(text, i):
            return True
    if s == 0:
        return False
    if text[s - 1] == "-":  # "Austria-Hungary": one compound, wherever it stands
        j = s - 1
        while j > 0 and text[j - 1].isalnum():
            j -= 1
        return j < s - 1 and text[j].isupper()
    p, start = _word_before(text, s)
    if not p:
        return False
    if p[0].isupper():
        return p not in HONORIFICS and not _sentence_start(text, start)
    if p == "the":
        p, start = _word_before(text, start)
    if p in PARTICLES:
        p2, start2 = _word_before(text, start)
        return bool(p2) and p2[0].isupper() and not _sentence_start(text, start2)
    return False


class MentionScan:
    """Patterns, the corpus counts and the buffered matches of one ``--mentions`` pass."""

    def __init__(self, names: dict[str, int], titles: set[str], cfg: MentionConfig) -> None:
        self.cfg = cfg
        self.patterns = list(names)
        self.targets = np.array([names[p] for p in self.patterns], dtype=np.int64)
        self.is_title = np.array([p in titles for p in self.patterns], dtype=bool)
        self.single = np.array([" " not in p for p in self.patterns], dtype=bool)
        lower: list[str] = []
        self.lower_of: list[int] = []  # lower-case pattern k counts for name pattern lower_of[k]
        for i, p in enumerate(self.patterns):
            lp = p.lower()
            if self.is_title[i] and lp != p and lp not in names and _may_be_word(p):
                lower.append(lp)
                self.lower_of.append(i)
        n = len(self.patterns)
        self.n_names = n
        self._targets = self.targets.tolist()
        self._single = self.single.tolist()
        self._lower: list[int] = [0] * n  # lower-case occurrences
        self._mid: list[int] = [0] * n  # capitalised, standalone, not at a sentence start
        self._start: list[int] = [0] * n  # capitalised at a sentence start
        self._longer: list[int] = [0] * n  # inside a longer capitalised span
        self._of_after: list[int] = [0] * n  # capitalised and followed by "of Name" ("Gulf of Guinea")
        self._by_kind = {_MID: self._mid, _START: self._start, _LONGER: self._longer}
        import ahocorasick_rs

        self.ac = ahocorasick_rs.AhoCorasick(self.patterns + lower, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest)
        self._u, self._p, self._k = array("i"), array("i"), array("i")

    def scan(self, u: int, text: str) -> None:
        """Count and buffer the matches of one document (node ``u``)."""
        end_text = len(text)
        seen: dict[int, int] = {}
        names_only = self.cfg.names_only
        n = self.n_names
        targets, single, lower, lower_of = self._targets, self._single, self._lower, self.lower_of
        for pi, s, e in self.ac.find_matches_as_indexes(text):
            if (s > 0 and text[s - 1].isalnum()) or (e < end_text and text[e].isalnum()):
                continue
            if pi >= n:
                lower[lower_of[pi - n]] += 1
                continue
            if targets[pi] == u:
                continue
            kind = _MID
            if names_only:
                if in_longer_name(text, s, e):
                    kind = _LONGER
                elif single[pi] and _sentence_start(text, s):
                    kind = _START
            # "Gulf of Guinea": links, but is no evidence either way for the common-word counts
            if kind == _MID and e < end_text and text[e] == " " and _of_name_after(text, e):
                self._of_after[pi] += 1
            else:
                self._by_kind[kind][pi] += 1
            seen[pi] = seen.get(pi, 0) | kind
        if seen:
            self._u.extend([u] * len(seen))
            self._p.extend(seen.keys())
            self._k.extend(seen.values())

    @property
    def n_lower(self) -> np.ndarray:
        return np.asarray(self._lower, dtype=np.int64)

    @property
    def n_mid(self) -> np.ndarray:
        return np.asarray(self._mid, dtype=np.int64)

    def common(self) -> np.ndarray:
        """Title patterns the corpus mostly writes in lower case (aliases never are)."""
        return self.is_title & (self.n_lower > self.n_mid)

    def decide(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
        """(src, dst, common) of the kept edges, and the edges each rule dropped.

        A (document, entity) pair is one edge: kept when any of its matches passes (a plain mention beats a
        common-word one), otherwise counted under the first rule that dropped it."""
        u = np.frombuffer(self._u, dtype=np.int32).astype(np.int64)
        p = np.frombuffer(self._p, dtype=np.int32).astype(np.int64)
        k = np.frombuffer(self._k, dtype=np.int32)
        common = self.common()
        start_ok = (self.n_lower == 0) | (self.n_mid > self.n_lower)
        c = common[p]
        # codes: 0 keep, 1 keep as common word, 2.. dropped by DROP_RULES in order
        code = np.full(len(p), 4, dtype=np.int8)  # longer_name
        code[(k & _START).astype(bool) & start_ok[p]] = 0
        code[((k & _START).astype(bool)) & ~start_ok[p]] = 3
        code[(k & _MID).astype(bool)] = 0
        keep_mode = self.cfg.common_words == "keep"
        if keep_mode:  # kept under its own label; the sentence-start and longer-name rules still apply
            code[c & (code == 0)] = 1
        else:  # not a mention pattern at all: every match of it is dropped by this rule
            code[c] = 2
        v = self.targets[p]
        order = np.lexsort((code, v, u))
        u, v, code = u[order], v[order], code[order]
        first = np.ones(len(u), dtype=bool)
        first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
        u, v, code = u[first], v[first], code[first]
        dropped = {f"mention_edges_dropped_{r}": int((code == 2 + i).sum()) for i, r in enumerate(DROP_RULES)}
        kept = code <= 1
        return u[kept], v[kept], code[kept] == 1, dropped

    def counts(self) -> dict[str, int]:
        """Pattern-level counts for the build report."""
        common = self.common()
        return {"mention_common_word_titles": int(common.sum()),
                "mention_matches_in_longer_names": sum(self._longer),
                "mention_matches_at_sentence_start": sum(self._start),
                "mention_matches_before_of_name": sum(self._of_after)}


def mention_patterns(
    nodes: Iterable[tuple[int, str, Sequence[str]]], min_title_len: int, stop: set[str], numeric: re.Pattern[str],
) -> tuple[dict[str, int], set[str], int]:
    """(name -> node, the names that are titles, ambiguous names dropped) from (node, title, aliases)."""
    pat_node: dict[str, int] = {}
    titles: set[str] = set()
    ambiguous: set[str] = set()
    for n, title, aliases in nodes:
        for j, name in enumerate([title, *aliases]):
            if len(name) < min_title_len or name in stop or numeric.match(name):
                continue
            other = pat_node.get(name)
            if other is not None and other != n:
                ambiguous.add(name)
            pat_node.setdefault(name, n)
            if j == 0:
                titles.add(name)
    for key in ambiguous:
        del pat_node[key]
    return pat_node, titles, len(ambiguous)


def scan_documents(
    scan: MentionScan, documents: Iterable[Any], doc_nodes: Sequence[int],
    on_record: Callable[[int], None] | None = None,
) -> None:  # fmt: skip
    """Scan ``documents`` (in the order their nodes were listed) into ``scan``."""
    for i, doc in enumerate(documents):
        if i >= len(doc_nodes):
            break
        scan.scan(doc_nodes[i], doc.text)
        if on_record is not None:
            on_record(i + 1)


def title_usage(title: str, text: str) -> tuple[int, int]:
    """(lower-case, capitalised standalone mid-sentence) whole-word occurrences of ``title`` in ``text``.

    The same counts as the mention pass, for one page: a title without its "(qualifier)"."""
    name = re.sub(r"\s*\([^)]*\)$", "", title).strip()
    if not name or name.lower() == name:
        return 0, 0
    low = name.lower()
    n_lower = n_mid = 0
    for m in re.finditer(rf"(?<!\w)(?:{re.escape(name)}|{re.escape(low)})(?!\w)", text):
        s, e = m.span()
        if m.group() == low:
            n_lower += 1
        elif not in_longer_name(text, s, e) and not _sentence_start(text, s) and not _of_name_after(text, e):
            n_mid += 1
    return n_lower, n_mid


def is_concept_page(title: str, text: str) -> bool:
    """A generic concept ("Galaxy", "River", "Second"): its own page writes its title mostly in lower case."""
    n_lower, n_mid = title_usage(title, text)
    return n_lower > n_mid
