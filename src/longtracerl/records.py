"""The records passed between stages: the only contracts between the stage folders.

Every stage reads the previous stage's JSONL of one of these records and appends its own, keyed by
the record's id (see ``longtracerl.io``). Fields follow ../shared/DESIGN.md; add fields with defaults
rather than renaming, so older run directories stay readable.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Record(BaseModel):
    """Base of all records: unknown fields are kept, so newer files load in older code."""

    model_config = ConfigDict(extra="allow")


# ---------------------------------------------------------------- corpus


class Document(Record):
    """One retrievable unit of the corpus (a page, or a section of one)."""

    doc_id: str
    title: str
    text: str
    source: str = ""
    url: str | None = None


class SearchHit(Record):
    """One ranked result of ``search(query, k)``."""

    doc_id: str
    title: str
    rank: int
    score: float
    snippet: str = ""


class OpenedDocument(Record):
    """Result of ``open(doc_id)``: the text, and whether it was cut to a length limit."""

    doc_id: str
    title: str
    text: str
    truncated: bool = False
    n_chars_total: int = 0


# ---------------------------------------------------------------- graph and walks


class Entity(Record):
    """A graph node: an entity, the document that describes it, and its other names."""

    entity_id: str
    title: str
    doc_id: str | None = None
    aliases: list[str] = Field(default_factory=list)


class Edge(Record):
    src: str
    dst: str
    relation: str | None = None


class Hop(Record):
    """One step of a walk. ``relation`` labels the edge that led here (None on the seed)."""

    entity_id: str
    title: str
    doc_id: str | None = None
    relation: str | None = None
    jumped: bool = False  # reached by a random jump rather than along an edge (never phrased as a relation)


class Chain(Record):
    """A walk over the graph: the skeleton of one multi-hop question (PAPER.md 2a)."""

    chain_id: str
    hops: list[Hop]
    seed: int
    walk: dict[str, Any] = Field(default_factory=dict)  # the walk settings that produced it


# ---------------------------------------------------------------- questions


class WriterInfo(Record):
    backend: str
    model: str = ""
    prompt_version: str = ""


class Question(Record):
    """A validated multi-hop question written from a chain; ``gold_entities`` are the rubrics."""

    question_id: str
    chain_id: str
    question: str
    answer: str
    answer_aliases: list[str] = Field(default_factory=list)
    gold_entities: list[str]
    gold_doc_ids: list[str]
    writer: WriterInfo
    validation: dict[str, Any] = Field(default_factory=dict)
    attempts: int = 1
    # one per chain hop: the clue that pins that hop's entity ("" where none, e.g. a hop cut from the question)
    hop_clues: list[str] = Field(default_factory=list)


class Rejection(Record):
    """Why an item (chain, question, trajectory, sample) was dropped; written to rejected.jsonl."""

    item_id: str
    stage: str
    reason: str
    detail: str = ""
    attempts: int = 1


# ---------------------------------------------------------------- agent trajectories


class Usage(Record):
    """Cost accounting, summed per stage."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    def add(self, other: Usage) -> Usage:
        return Usage(
            calls=self.calls + other.calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            seconds=self.seconds + other.seconds,
        )


class TrajectoryStep(Record):
    kind: Literal["search", "open", "answer", "error"]
    query: str | None = None
    results: list[SearchHit] | None = None
    doc_id: str | None = None
    answer: str | None = None
    cited_doc_ids: list[str] | None = None
    error: str | None = None  # an unparsable action, a missing document, ...
    thought: str | None = None


class Trajectory(Record):
    """One attempt of the search agent on one question (PAPER.md 2b)."""

    question_id: str
    attempt: int
    steps: list[TrajectoryStep] = Field(default_factory=list)
    final_answer: str = ""
    cited_doc_ids: list[str] = Field(default_factory=list)
    correct: bool = False
    judge: dict[str, Any] = Field(default_factory=dict)
    usage: Usage = Field(default_factory=Usage)
    agent: str = ""
    # why the attempt ended: "answered", "turn_limit", "llm_error", "empty_answer", "agent_error"
    end_reason: str = ""

    @property
    def opened_doc_ids(self) -> list[str]:
        """Documents opened, in first-open order, without repeats."""
        seen: dict[str, None] = {}
        for s in self.steps:
            if s.kind == "open" and s.doc_id and s.error is None:
                seen.setdefault(s.doc_id, None)
        return list(seen)

    @property
    def result_doc_ids(self) -> list[str]:
        """Documents that appeared in any search result list, in first-seen order."""
        seen: dict[str, None] = {}
        for s in self.steps:
            for h in s.results or []:
                seen.setdefault(h.doc_id, None)
        return list(seen)


# ---------------------------------------------------------------- long-context samples

Tier = Literal["gold", "tier1", "tier2", "fill"]


class ContextDoc(Record):
    doc_id: str
    tier: Tier
    n_tokens: int


class Sample(Record):
    """One assembled long-context training example (PAPER.md 2d)."""

    sample_id: str
    question_id: str
    messages: list[dict[str, str]]
    label: str
    rubrics: list[str]
    question: str
    docs: list[ContextDoc]  # in context order
    n_tokens: int
    tokenizer: str
    strategy: str = "trajectory_tiered"
    seed: int = 0
    dataset_name: str = "longqa"


# ---------------------------------------------------------------- reward


class RewardResult(Record):
    """The reward of one response, with everything needed to audit it."""

    outcome: float
    rubric_raw: float
    rubric_normalized: float
    reward: float
    matched_entities: list[str] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)
