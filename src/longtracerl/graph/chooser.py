"""How a walk picks its next hop: the chooser protocols (uniform, degree-weighted, LLM, ...)."""

from __future__ import annotations

import random
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from longtracerl.records import Hop


class Candidate(BaseModel):
    """One unvisited neighbour offered to the chooser (at most ``max_candidates`` per step)."""

    entity_id: str
    title: str
    doc_id: str | None = None
    relation: str | None = None
    first_sentence: str = ""
    degree: int = 0


@runtime_checkable
class WalkChooser(Protocol):
    """Synchronous chooser: returns the index of the picked candidate."""

    name: str

    def choose(self, path: list[Hop], candidates: list[Candidate], rng: random.Random) -> int: ...


@runtime_checkable
class AsyncWalkChooser(Protocol):
    """Chooser that waits on I/O (an LLM): many walks run concurrently, each awaiting its pick."""

    name: str

    async def achoose(self, path: list[Hop], candidates: list[Candidate], rng: random.Random) -> int: ...
