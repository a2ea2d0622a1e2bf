"""A non-oracle, LLM-free search agent: it sees only the question and the tools (PAPER.md 2b).

It is the solvability filter of LLM-free builds: it knows nothing of the chain, the gold pages or the answer.
It reads the question as a sequence of steps ("Start with the entity described thus: "..."", "Next, go to an
entity it shares a border with, namely the one described thus: "..."", "Then ... start again from ...", or
"whose page says: "..."" as LLM writers put it) and a final ask, and for each step:

- an entry step (start, restart): searches the clue, opens the top hits and keeps the page the clue fits best;
- a move: searches the clue (then the current title with the relation words and the clue), prefers hits the
  current page mentions (what a reader of that page can follow), opens a few and keeps the one the clue fits
  best; a step without a clue (its relation pins it: "go to its director") keeps the candidate that a line of
  the current page names next to the relation's words (``relation_evidence``); when searching the clue finds
  nothing that fits, it reads the names the current page mentions and opens their pages (``_scan``);

then reads the asked attribute from the last page ("Capital: ..."), or answers with its title, and cites the
pages of its path. Every search and open is a real call through ``ToolEnv``, so its trajectories give the
tiers: pages it opened and dropped are Tier-1, results it never opened Tier-2. Attempt 1 is greedy; later
attempts break near-ties at random (seeded by question and attempt), as K tries of a person would.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import re
from dataclasses import dataclass
from functools import lru_cache

from longtracerl.corpus.base import SearchBackend
from longtracerl.records import Question, Trajectory, Usage
from longtracerl.rng import seeded_rng
from longtracerl.synth.agent.tools import ToolEnv
from longtracerl.synth.questions.clues import STOPWORDS, terms
from longtracerl.synth.questions.obfuscate import page_terms
from longtracerl.synth.questions.phrasing import parse_steps, text_type

_CLUE = re.compile(r'(?:says|described thus):\s*"([^"]*)"')
_NAME = re.compile(r"\b[A-Z][\w'\-]+(?:\s+(?:of|and|the|de|du|la)?\s*[A-Z][\w'\-]+){0,3}")
_ASK_ATTR = re.compile(r"what is the (.+?) of the\b", re.I)


@dataclass
class Step:
    kind: str  # start | move | restart
    relation: str
    clue: str


_STEP_START = re.compile(r"(?:^|(?<=[.!?]\s))(?=Start with|Next, |Then set that entity aside)")


def parse_question(text: str) -> tuple[list[Step], str]:
    """Steps and the final ask of a clue-pinned question; ``([], text)`` when it has no steps.

    A step is "Start with ...", "Next, go to ..." or "Then set that entity aside and start again from ...",
    with its clue in quotes, or none when its relation pins it ("Next, go to its director."); or one question
    in the template writer's public grammar (``phrasing.parse_steps``)."""
    one = parse_steps(text)
    if one is not None:
        return [Step(*s) for s in one[0]], one[1]
    quoted: list[str] = []

    def hide(m: re.Match[str]) -> str:  # clues may contain anything: set them aside while splitting
        quoted.append(m.group(1))
        return f'{m.group(0).split(":")[0]}: "\x00{len(quoted) - 1}\x00"'

    masked = _CLUE.sub(hide, text)
    if not re.search(r"^Start with|Next, go to", masked):
        return _parse_by_quotes(text)
    steps: list[Step] = []
    ask = ""
    segments = [s for s in _STEP_START.split(masked) if s.strip()]
    for seg in segments:
        if not re.match(r"Start with|Next, |Then set that entity aside", seg):
            ask = (ask + " " + seg).strip()
            continue
        m = re.search(r'"\x00(\d+)\x00"', seg)
        clue = quoted[int(m.group(1))].strip() if m else ""
        body, _, rest = (seg.partition(m.group(0)) if m else seg.partition(". "))
        rest = rest.lstrip(". ").strip() if m else rest.strip()
        low = seg.lower()
        kind = "start" if not steps else ("restart" if "start again" in low else "move")
        steps.append(Step(kind, _relation_of(body) if kind == "move" else "", clue))
        if rest:
            ask = rest
    if sum(1 for st in steps if st.clue) < len(quoted):  # clues outside the step phrases: another writer's form
        return _parse_by_quotes(text)
    return steps, ask.strip(" .")


def _relation_of(lead: str) -> str:
    """The relation words of a move: what follows "go to", up to ", namely"."""
    rel = re.sub(r".*?\bgo to\b", "", lead, flags=re.S | re.I)
    return re.sub(r",?\s*namely.*", "", rel, flags=re.S | re.I).strip(" .,")


def _parse_by_quotes(text: str) -> tuple[list[Step], str]:
    """Any writer's form: every quoted clue is one step; ``([], text)`` without quoted clues."""
    steps: list[Step] = []
    pos = 0
    for m in _CLUE.finditer(text):
        lead = text[pos:m.start()]
        kind = "start" if not steps else ("restart" if "start again" in lead.lower() else "move")
        steps.append(Step(kind, _relation_of(lead) if kind == "move" else "", m.group(1).strip()))
        pos = m.end()
    return steps, text[pos:].strip(" .")


def query_of(clue: str) -> str:
    """The clue as a search query: without the mask phrases, which name nothing, and without blurred
    figures ("the 1810s", "about 40"), which no page spells that way."""
    q = re.sub(r"\b(this|another) entity('s)?\b", " ", clue, flags=re.I)
    q = re.sub(r"\b(?:the\s+)?\d{3,4}s\b|\babout\s+[\d.,]+\b", " ", q)
    return re.sub(r"\s+", " ", q).strip()


def keywords(clue: str, n: int = 4) -> str:
    """The clue's ``n`` longest content words: what a person types when the whole clue finds nothing."""
    words = [t for t in terms(query_of(clue)) if not t.isdigit()]
    return " ".join(sorted(words, key=len, reverse=True)[:n])


def _title_base(title: str) -> str:
    return re.sub(r"\s*\([^)]*\)", "", title).strip()


def mentions(page_text: str, title: str) -> bool:
    t = _title_base(title)
    return bool(t) and re.search(rf"(?<!\w){re.escape(t)}(?!\w)", page_text, re.I) is not None


def length_fit(clue: str, page: str) -> float:
    """Share of the clue's content words found in the page, longer words weighing more. The solver has only
    a reader's tools, no corpus statistics, so length stands in for rarity; the clue writer and the
    validators weigh by corpus IDF (``ClueContext.fit``)."""
    ct = [t for t in terms(clue) if t != "entity"]
    if not ct:
        return 0.0
    have = page_terms(page)  # a page reads as itself and blurred: "1800s" fits a page that says "1806"
    w = {t: min(len(t), 10) for t in ct}
    return sum(w[t] for t in ct if t in have) / sum(w.values())


_REL_SKIP = frozenset({"go", "page", "mentions", "entity", "namely", "one", "whose", "it", "its"})


@lru_cache(maxsize=256)
def _lines(text: str) -> tuple[str, ...]:
    """Sentences and lines of a page (cached: every candidate of a step is checked against the same page)."""
    return tuple(re.split(r"(?<=[.!?])\s+|\n+", text))


def relation_evidence(relation: str, cur_text: str, cand_title: str, cand_text: str, cur_title: str) -> float:
    """How a reader checks a clue-less step ("go to its director"): a line of the current page names the
    candidate next to the relation's words ("directed by X"; "Exports - partners: X 25%, ..."), or the
    candidate's page names the current entity next to them. 0 without such a line; up to 1.5, higher when
    the candidate comes first in that line (a list's first item is its largest)."""
    stems = {w[:5] for w in terms(relation) if w not in _REL_SKIP and len(w) > 2}
    if not stems:
        return 0.0
    best = 0.0
    for text, name in ((cur_text, cand_title), (cand_text, cur_title)):
        base = _title_base(name)
        if not base:
            continue
        for line in _lines(text):
            m = re.search(rf"(?<!\w){re.escape(base)}(?!\w)", line, re.I)
            if m is None or not stems & {w[:5] for w in terms(line)}:
                continue
            best = max(best, 1.0 + 0.5 * (1.0 - m.start() / max(1, len(line))))
    return best


_DEFINITE = re.compile(r"the (?!one\b)")


def type_evidence(relation: str, cand_text: str) -> float:
    """How a reader checks a step pinned by type words ("the film director its page mentions"): the candidate's
    page says in its first sentence that it is one (``phrasing.text_type``). 1.5 when it does, else 0."""
    if not _DEFINITE.match(relation):
        return 0.0
    t = text_type(cand_text)
    return 1.5 if t and relation.casefold().startswith(f"the {t.casefold()} ") else 0.0


def read_attribute(page: str, attribute: str) -> str:
    """The value of ``attribute`` on a page of ``Label: value`` lines (best label word overlap)."""
    want = {w.rstrip("s") for w in re.findall(r"[a-z]+", attribute.lower()) if w not in STOPWORDS} - {"first",
                                                                                                      "listed"}
    best, value = 0, ""
    for line in page.splitlines():
        if ":" not in line:
            continue
        label, rest = line.split(":", 1)
        have = {w.rstrip("s") for w in re.findall(r"[a-z]+", label.lower())}
        score = len(want & have)
        if score > best:
            best, value = score, rest
    value = re.sub(r"^\s*name:\s*", "", value)
    value = re.split(r"[;\n(]", value)[0]
    if "first listed" in attribute.lower():
        value = value.split(",")[0]
    return value.strip(" .")


class ClueSolver:
    """``solve(question, attempt)``: a trajectory of real searches and opens, knowing only the question."""

    name = "solver"

    def __init__(self, search: SearchBackend, *, k: int = 20, open_per_step: int = 4, seed: int = 0,
                 tie: float = 0.1, confident: float = 1.15, scan_names: int = 150, scan_opens: int = 24,
                 workers: int = 8) -> None:
        self.workers = workers  # attempts running at once (the agent stage passes agent.concurrency)
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.confident = confident
        self.scan_names = scan_names
        self.scan_opens = scan_opens
        self.search = search
        self.k = k
        self.open_per_step = open_per_step
        self.seed = seed
        self.tie = tie

    def _rng(self, q: Question, attempt: int) -> random.Random:
        return seeded_rng("solver", self.seed, q.question_id, attempt)

    def _read(self, env: ToolEnv, doc_id: str, pages: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
        if doc_id not in pages:
            obs = env.open_blocking(doc_id)
            if not obs.startswith("Document "):
                return None
            head, _, body = obs.partition("\n")
            pages[doc_id] = (head.split(": ", 1)[1] if ": " in head else doc_id, body)
        return pages[doc_id]

    def _choose(self, scored: list[tuple[float, str]], rng: random.Random, greedy: bool) -> str | None:
        if not scored:
            return None
        top = max(s for s, _ in scored)
        near = [d for s, d in scored if s >= top - self.tie]
        return near[0] if greedy or len(near) == 1 else rng.choice(near)

    def _entry(self, env: ToolEnv, step: Step, pages: dict[str, tuple[str, str]], path: list[str],
               rng: random.Random, greedy: bool) -> str | None:
        _, hits = env.search_blocking(query_of(step.clue))
        scored = []
        for h in [h for h in hits if h.doc_id not in path][: self.open_per_step]:
            page = self._read(env, h.doc_id, pages)
            if page is not None:
                scored.append((length_fit(step.clue, page[0] + "\n" + page[1]), h.doc_id))
        return self._choose(scored, rng, greedy)

    def _move(self, env: ToolEnv, step: Step, cur: str, pages: dict[str, tuple[str, str]], path: list[str],
              rng: random.Random, greedy: bool) -> str | None:
        title, text = pages[cur]
        rel_words = " ".join(t for t in terms(step.relation) if t not in ("go", "page", "mentions"))
        clue_q = query_of(step.clue)
        # what is around the current entity, then what fits the clue; both as a person would type them
        rounds = [[f"{title} {rel_words}".strip(), clue_q] if step.clue else [f"{title} {rel_words}".strip()],
                  [f"{title} {rel_words} {clue_q}".strip()] if step.clue else [],
                  [keywords(step.clue)] if step.clue and keywords(step.clue) != clue_q else []]
        scored: list[tuple[float, str]] = []
        tried: set[str] = set()
        for queries in [r for r in rounds if r]:
            per_query: list[list[str]] = []
            titles: dict[str, str] = {}
            for q in queries:
                _, hits = env.search_blocking(q)
                per_query.append([h.doc_id for h in hits if h.doc_id not in path and h.doc_id not in tried])
                titles.update((h.doc_id, h.title) for h in hits)
            clue_hits = per_query[-1] if step.clue else []
            near_hits = per_query[0] if not step.clue or len(per_query) > 1 else []
            linked = [d for d in clue_hits if mentions(text, titles[d])]
            unlinked = [d for d in clue_hits if d not in linked]
            near = [d for d in near_hits if mentions(text, titles[d]) and d not in clue_hits]
            if not step.clue:  # no clue: any entity the page mentions is as good as another
                rng.shuffle(near)
                # then the top hits the page does not name: under an inverse relation ("the film whose director
                # it is") it is the target's page that names the current entity
                near += [d for d in near_hits if d not in near and d not in clue_hits]
            # the clue's best linked hits, its best hit even if the page does not name it, then the rest
            ranked = list(dict.fromkeys([*linked[:2], *unlinked[:1], *linked[2:], *near, *unlinked[1:]]))
            others: list[str] = []
            for did in (ranked + others)[: self.open_per_step]:
                tried.add(did)
                page = self._read(env, did, pages)
                if page is None:
                    continue
                link = mentions(text, titles[did]) or mentions(page[1], title)  # either page names the other
                rel_ok = relation_evidence(step.relation, text, titles[did], page[1], title)
                # with a clue, the relation is checked too: it breaks ties between pages the clue fits equally
                sc = (length_fit(step.clue, page[0] + "\n" + page[1]) + 0.2 * min(1.0, rel_ok) if step.clue
                      else rel_ok + type_evidence(step.relation, page[1]))
                scored.append((sc + (0.25 if link else 0.0), did))
            if scored and max(x for x, _ in scored) >= self.confident:
                break
        if not scored or max(x for x, _ in scored) < self.confident:
            scored += self._scan(env, step, title, text, pages, path, tried)
        return self._choose(scored, rng, greedy)

    def _scan(self, env: ToolEnv, step: Step, title: str, text: str, pages: dict[str, tuple[str, str]],
              path: list[str], tried: set[str]) -> list[tuple[float, str]]:
        """Read what the current page names, as a person would when searching did not find the step's page: each
        capitalised name on the page is searched, a hit titled by that name is a page it links to, and those
        pages are opened (up to ``scan_opens``) and scored against the clue."""
        own = _title_base(title).lower()
        names = list(dict.fromkeys(n for m in _NAME.finditer(text) if (n := m.group(0).strip()).lower() != own
                                   and len(n) >= 4 and n.split()[0].lower() not in STOPWORDS
                                   and "\n" not in n))[: self.scan_names]
        scored: list[tuple[float, str]] = []
        opened = 0
        for name in names:
            if opened >= self.scan_opens:
                break
            _, hits = env.search_blocking(name)
            for h in hits[:3]:
                if h.doc_id in path or h.doc_id in tried or _title_base(h.title).lower() != name.lower():
                    continue
                tried.add(h.doc_id)
                page = self._read(env, h.doc_id, pages)
                opened += 1
                if page is not None:
                    rel_ok = relation_evidence(step.relation, text, h.title, page[1], title)
                    sc = (length_fit(step.clue, page[0] + "\n" + page[1]) + 0.2 * min(1.0, rel_ok) if step.clue
                          else rel_ok + type_evidence(step.relation, page[1]))  # as in _move
                    scored.append((sc + 0.25, h.doc_id))
                break
            if scored and max(x for x, _ in scored) >= self.confident:
                break
        return scored

    async def solve(self, question: Question, attempt: int) -> Trajectory:
        """One attempt, run whole in a worker thread so the event loop keeps serving LLM and judge requests.

        Threads, not processes: the solver works on a live backend (an open tantivy index, the DocStore's
        SQLite connections, a dense index's vectors in RAM, an embedding client) that cannot be pickled; a
        process pool would reopen it in every worker and hold one copy of a dense index's vectors per process.
        The local engines are thread-safe (``serve-search`` calls them from a thread pool). The solver's own
        scoring is Python and holds the GIL, so threads keep the loop free but do not add cores; the build's
        Ray executor is the way to more cores (one process per task, each opening the world once)."""
        if self._pool is None:  # its own pool: the loop's default one has cpu+4 threads, fewer than agent.concurrency
            self._pool = concurrent.futures.ThreadPoolExecutor(max(1, self.workers), thread_name_prefix="solver")
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.solve_blocking, question, attempt)

    def solve_blocking(self, question: Question, attempt: int) -> Trajectory:
        """``solve`` in the calling thread (tests, scripts without an event loop)."""
        rng = self._rng(question, attempt)
        greedy = attempt == 1
        env = ToolEnv(self.search, k=self.k, max_open=10**6, obs_max_chars=10**7)
        steps, ask = parse_question(question.question)
        pages: dict[str, tuple[str, str]] = {}
        path: list[str] = []
        end = "answered"
        if not steps:  # not a clue-pinned question: one search, answer with the top page's title
            steps = [Step("start", "", question.question)]
        for st in steps:
            cur = path[-1] if path else None
            nxt = (self._entry(env, st, pages, path, rng, greedy) if st.kind != "move" or cur is None
                   else self._move(env, st, cur, pages, path, rng, greedy))
            if nxt is None:
                end = "lost"
                break
            path.append(nxt)
        answer = ""
        if path and end == "answered":
            title, text = pages[path[-1]]
            m = _ASK_ATTR.search(ask)
            answer = read_attribute(text, m.group(1)) if m else _title_base(title)
        env.answer(answer, path)
        return Trajectory(question_id=question.question_id, attempt=attempt, steps=env.steps,
                          final_answer=env.final_answer or "", cited_doc_ids=env.cited, usage=Usage(),
                          agent=self.name, end_reason=end if answer else "empty_answer")
