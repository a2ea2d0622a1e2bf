"""What the twin remembers: the questions it wrote (which chain, which answer), so that as the agent it can
find the gold pages of its own questions, as a model that had read them would.

In memory by default; ``path`` keeps it in sqlite, shared by several twins (a pool of endpoints behind one
build: the writer's call may go to one twin and the agent's to another) and across restarts.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from longtracerl.llm.cache import SqliteStore


@dataclass
class Written:
    """One question the twin wrote: the path it followed, the clue of each entity, the answer."""

    question: str
    answer: str
    titles: list[str]  # the entities the question walks through, in order (the gold pages)
    clues: list[str] = field(default_factory=list)


def question_key(question: str) -> str:
    return hashlib.sha256(" ".join(question.split()).encode()).hexdigest()


class TwinMemory:
    """``remember(written)`` / ``recall(question)`` keyed by the whitespace-normalised question text."""

    def __init__(self, path: Path | str | None = None) -> None:
        self._store = SqliteStore(path, "written") if path else None
        self._mem: dict[str, Written] = {}
        self._lock = threading.Lock()

    def remember(self, w: Written) -> None:
        key = question_key(w.question)
        with self._lock:
            self._mem[key] = w
        if self._store is not None:
            self._store.put(key, asdict(w))

    def recall(self, question: str) -> Written | None:
        key = question_key(question)
        with self._lock:
            hit = self._mem.get(key)
        if hit is None and self._store is not None and (row := self._store.get(key)) is not None:
            hit = Written(**row)
        return hit

    def __len__(self) -> int:
        return len(self._store) if self._store is not None else len(self._mem)
