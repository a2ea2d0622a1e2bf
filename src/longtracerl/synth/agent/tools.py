"""The agent's tool environment: runs ``search``/``open``/``answer`` and records every step.

Every LLM-driven and LLM-free agent goes through ``ToolEnv`` so trajectories look the same whoever
produced them, and so search failures (empty results, a document that disappeared, an engine that
raised) become observations the agent can react to instead of crashes.

``search``/``open`` are awaited: many questions share one event loop with their LLM requests, so a tool
call never blocks it (``corpus.base.search_async``: a remote index over an async HTTP client, a local
engine in a worker thread).
"""

from __future__ import annotations

from typing import Any

from longtracerl.corpus.base import DocumentNotFound, SearchBackend, open_async, search_async
from longtracerl.records import OpenedDocument, SearchHit, Trajectory, TrajectoryStep, Usage

CHARS_PER_TOKEN = 4  # observation budgets are given in tokens; ~4 characters per token for English

TOOL_SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the document collection. Returns document ids, titles and snippets.",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string", "description": "keywords to search for"}},
                "required": ["query"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "open",
            "description": "Read the text of one document by its id (as shown in search results).",
            "parameters": {
                "type": "object",
                "properties": {"doc_id": {"type": "string"}},
                "required": ["doc_id"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "answer",
            "description": "Give the final short answer and cite the ids of the documents it relies on.",
            "parameters": {
                "type": "object",
                "properties": {
                    "text": {"type": "string"},
                    "cited_doc_ids": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["text", "cited_doc_ids"],
            },
        },
    },
]


def clean_doc_id(raw: str) -> str:
    """Strip what models wrap ids in: quotes, brackets, a ``doc_id=`` prefix, whitespace."""
    s = raw.strip().strip("\"'`").strip()
    for prefix in ("doc_id=", "doc_id:", "id=", "id:"):
        if s.lower().startswith(prefix):
            s = s[len(prefix) :].strip().strip("\"'`")
    if len(s) > 1 and s[0] in "[(<" and s[-1] in "])>":
        s = s[1:-1].strip()
    return s


class ToolEnv:
    """One attempt's tools over a ``SearchBackend``, with limits, recording each step.

    ``obs_max_chars`` bounds the text of every observation (an opened page is cut, saying so);
    ``max_open`` bounds distinct documents opened (re-opening one is free).
    """

    def __init__(
        self,
        search: SearchBackend,
        *,
        k: int = 5,
        max_open: int = 8,
        obs_max_chars: int = 8000,
        snippet_chars: int = 240,
    ) -> None:
        self.search_backend = search
        self.k = k
        self.max_open = max_open
        self.obs_max_chars = obs_max_chars
        self.snippet_chars = snippet_chars
        self.steps: list[TrajectoryStep] = []
        self.opened: set[str] = set()
        self.titles: dict[str, str] = {}  # doc ids seen in results -> title (resolves titles typed as ids)
        self.final_answer: str | None = None
        self.cited: list[str] = []

    # ------------------------------------------------------------ recording

    @property
    def n_errors(self) -> int:
        return sum(1 for s in self.steps if s.kind == "error" or s.error is not None)

    def error(self, message: str, thought: str | None = None) -> str:
        """Record an unusable action; the returned observation tells the agent what went wrong."""
        self.steps.append(TrajectoryStep(kind="error", error=message, thought=thought))
        return f"Error: {message}"

    def _cut(self, text: str) -> str:
        if len(text) <= self.obs_max_chars:
            return text
        return text[: self.obs_max_chars] + "\n[observation truncated]"

    # ------------------------------------------------------------ tools

    # Each tool has an awaited form (every agent on the event loop: native async backends are awaited,
    # local engines run in a worker thread) and a blocking form (``*_blocking``) for an agent that runs
    # whole in a worker thread itself (the CPU-bound ``ClueSolver``). Both record the same steps.

    async def search(self, query: str, thought: str | None = None) -> tuple[str, list[SearchHit]]:
        """Run a search off the event loop; the observation text and the hits."""
        q = " ".join(str(query).split())
        if not q:
            return self.error("empty search query", thought), []
        try:
            hits = await search_async(self.search_backend, q, self.k)
        except Exception as e:  # the protocol says engines never raise; if one does, the agent goes on
            return self._search_failed(q, e, thought), []
        return self._searched(q, hits, thought), hits

    def search_blocking(self, query: str, thought: str | None = None) -> tuple[str, list[SearchHit]]:
        """``search`` for code already running in a worker thread."""
        q = " ".join(str(query).split())
        if not q:
            return self.error("empty search query", thought), []
        try:
            hits = list(self.search_backend.search(q, self.k))
        except Exception as e:
            return self._search_failed(q, e, thought), []
        return self._searched(q, hits, thought), hits

    def _search_failed(self, q: str, e: Exception, thought: str | None) -> str:
        self.steps.append(
            TrajectoryStep(kind="search", query=q, results=[], error=f"search failed: {e}", thought=thought)
        )
        return f"Error: search failed ({type(e).__name__}). Try another query."

    def _searched(self, q: str, hits: list[SearchHit], thought: str | None) -> str:
        self.steps.append(TrajectoryStep(kind="search", query=q, results=hits, thought=thought))
        if not hits:
            return f'No results for "{q}". Try other keywords.'
        lines = [f'Results for "{q}":']
        for h in hits:
            self.titles.setdefault(h.doc_id, h.title)
            snippet = " ".join(h.snippet.split())[: self.snippet_chars]
            lines.append(f"[{h.rank}] doc_id={h.doc_id} | {h.title}\n    {snippet}")
        return self._cut("\n".join(lines))

    def _resolve(self, doc_id: str) -> str:
        """An id the store lacks but that is the title of a listed result: use that result's id."""
        low = doc_id.casefold()
        for did, title in self.titles.items():
            if title.casefold() == low:
                return did
        return doc_id

    def _open_refused(self, did: str, thought: str | None) -> str | None:
        if not did:
            return self.error("open needs a document id", thought)
        if did not in self.opened and len(self.opened) >= self.max_open:
            return self.error(f"open limit reached ({self.max_open} documents); answer now", thought)
        return None

    async def open(self, doc_id: str, thought: str | None = None) -> str:
        """Read one document off the event loop; the observation text."""
        did = clean_doc_id(str(doc_id))
        if (refused := self._open_refused(did, thought)) is not None:
            return refused
        try:
            doc = await open_async(self.search_backend, did, self.obs_max_chars)
        except DocumentNotFound:
            alt = self._resolve(did)
            return self._not_found(did, thought) if alt == did else await self.open(alt, thought)
        except Exception as e:
            return self._open_failed(did, e, thought)
        return self._opened(doc, thought)

    def open_blocking(self, doc_id: str, thought: str | None = None) -> str:
        """``open`` for code already running in a worker thread."""
        did = clean_doc_id(str(doc_id))
        if (refused := self._open_refused(did, thought)) is not None:
            return refused
        try:
            doc = self.search_backend.open(did, max_chars=self.obs_max_chars)
        except DocumentNotFound:
            alt = self._resolve(did)
            return self._not_found(did, thought) if alt == did else self.open_blocking(alt, thought)
        except Exception as e:
            return self._open_failed(did, e, thought)
        return self._opened(doc, thought)

    def _not_found(self, did: str, thought: str | None) -> str:
        self.steps.append(TrajectoryStep(kind="open", doc_id=did, error="document not found", thought=thought))
        return f"Error: no document with id {did!r}. Use a doc_id from the search results."

    def _open_failed(self, did: str, e: Exception, thought: str | None) -> str:
        self.steps.append(TrajectoryStep(kind="open", doc_id=did, error=f"open failed: {e}", thought=thought))
        return f"Error: could not open {did!r} ({type(e).__name__})."

    def _opened(self, doc: OpenedDocument, thought: str | None) -> str:
        self.opened.add(doc.doc_id)
        self.steps.append(TrajectoryStep(kind="open", doc_id=doc.doc_id, thought=thought))
        obs = f"Document {doc.doc_id}: {doc.title}\n{doc.text}"
        if doc.truncated:
            total = doc.n_chars_total or len(doc.text)
            obs += f"\n[truncated: showing the first {len(doc.text)} of {total} characters]"
        return obs

    def answer(self, text: str, cited: list[str] | None, thought: str | None = None) -> None:
        seen: dict[str, None] = {}
        for c in cited or []:
            cid = clean_doc_id(str(c))
            if cid:
                seen.setdefault(self._resolve(cid) if cid not in self.opened else cid, None)
        self.final_answer = str(text).strip()
        self.cited = list(seen)
        self.steps.append(
            TrajectoryStep(kind="answer", answer=self.final_answer, cited_doc_ids=self.cited, thought=thought)
        )

    def trajectory(self, question_id: str, attempt: int, *, agent: str, end_reason: str,
                   usage: Usage | None = None) -> Trajectory:
        """The attempt as a record: every agent builds its trajectory here, so all look the same."""
        return Trajectory(
            question_id=question_id,
            attempt=attempt,
            steps=self.steps,
            final_answer=self.final_answer or "",
            cited_doc_ids=self.cited,
            usage=usage or Usage(),
            agent=agent,
            end_reason=end_reason,
        )
