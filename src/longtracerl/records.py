"""The records passed between stages: the only contracts between the stage folders.

Every stage reads the previous stage's JSONL of one of these records and appends its own, keyed by
the record's id (see ``longtracerl.io``). Fields follow ../shared/DESIGN.md; add fields with defaults
rather than renaming, so older run directories stay readable.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Record(BaseModel):
    """Base of all records: unknown fields are kept, so newer files load in older code.

    Every field a record carries is declared below with a type and a description; the JSON schema
    (``longtracerl schema RECORD``) is generated from these declarations.
    """

    model_config = ConfigDict(extra="allow")


# ---------------------------------------------------------------- corpus


class Document(Record):
    """One retrievable unit of the corpus (a page, or a section of one)."""

    doc_id: str = Field(description="stable id of the document within its store")
    title: str = Field(description="page title (sections keep the page title)")
    text: str = Field(description="plain text of the page or section")
    source: str = Field("", description="corpus or file the document came from")
    url: str | None = Field(None, description="canonical URL, when the corpus has one")


class SearchHit(Record):
    """One ranked result of ``search(query, k)``."""

    doc_id: str = Field(description="id of the matching document")
    title: str = Field(description="title of the matching document")
    rank: int = Field(description="1-based position in the result list")
    score: float = Field(description="the engine's relevance score (higher is better)")
    snippet: str = Field("", description="short excerpt shown to the agent")


class OpenedDocument(Record):
    """Result of ``open(doc_id)``: the text, and whether it was cut to a length limit."""

    doc_id: str = Field(description="id of the opened document")
    title: str = Field(description="title of the opened document")
    text: str = Field(description="its text, possibly cut to the length limit")
    truncated: bool = Field(False, description="whether the text was cut")
    n_chars_total: int = Field(0, description="length of the full text in characters")


# ---------------------------------------------------------------- graph and walks


class Entity(Record):
    """A graph node: an entity, the document that describes it, and its other names."""

    entity_id: str = Field(description="stable id of the graph node")
    title: str = Field(description="canonical name of the entity")
    doc_id: str | None = Field(None, description="document describing the entity, if any")
    aliases: list[str] = Field(default_factory=list, description="other names of the entity")


class Edge(Record):
    src: str = Field(description="entity id the edge starts from")
    dst: str = Field(description="entity id the edge points to")
    relation: str | None = Field(None, description="relation label (None for plain hyperlinks)")


class Hop(Record):
    """One step of a walk. ``relation`` labels the edge that led here (None on the seed)."""

    entity_id: str = Field(description="entity reached at this step")
    title: str = Field(description="its title")
    doc_id: str | None = Field(None, description="its document (the gold page of this hop)")
    relation: str | None = Field(None, description="label of the edge that led here (None on the seed)")
    jumped: bool = Field(False, description="reached by a random jump rather than along an edge; never phrased "
                         "as a relation (the question restarts there or is cut)")


class Chain(Record):
    """A walk over the graph: the skeleton of one multi-hop question (PAPER.md 2a)."""

    chain_id: str = Field(description="stable id of the walk (from the seed and walk index)")
    hops: list[Hop] = Field(description="the entities of the walk, seed first")
    seed: int = Field(description="seed of the walk run")
    walk: dict[str, Any] = Field(default_factory=dict, description="the walk settings that produced it")


# ---------------------------------------------------------------- questions


class WriterInfo(Record):
    backend: str = Field(description="writer kind (template, or the LLM backend)")
    model: str = Field("", description="LLM model name, when an LLM wrote the question")
    prompt_version: str = Field("", description="version of the writer prompt or template")


class Question(Record):
    """A validated multi-hop question written from a chain; ``gold_entities`` are the rubrics."""

    question_id: str = Field(description="stable id of the question")
    chain_id: str = Field(description="the chain it was written from")
    question: str = Field(description="the question text")
    answer: str = Field(description="the short gold answer")
    answer_aliases: list[str] = Field(default_factory=list, description="other accepted forms of the answer")
    gold_entities: list[str] = Field(description="entities of the path: the rubrics of the reward")
    gold_doc_ids: list[str] = Field(description="gold pages of the path, in path order")
    writer: WriterInfo = Field(description="who wrote the question")
    rubrics: list[str] = Field(default_factory=list, description="the rubric: gold entities in surface form "
                               "(synth/rubrics.py); empty in questions written before it existed")
    rubric_aliases: dict[str, list[str]] = Field(default_factory=dict, description="other names of each rubric "
                                                 "entity that also count (full title, graph aliases)")
    validation: dict[str, Any] = Field(default_factory=dict, description="results of the validators it passed")
    attempts: int = Field(1, description="writer attempts it took")
    hop_clues: list[str] = Field(default_factory=list, description="one per chain hop: the clue that pins that "
                                 "hop's entity (\"\" where none, e.g. a hop cut from the question)")


class Rejection(Record):
    """Why an item (chain, question, trajectory, sample) was dropped; written to rejected.jsonl."""

    item_id: str = Field(description="id of the dropped item (chain, question, sample)")
    stage: str = Field(description="stage that dropped it")
    reason: str = Field(description="short machine-readable reason")
    detail: str = Field("", description="human-readable detail")
    attempts: int = Field(1, description="attempts made before giving up")


# ---------------------------------------------------------------- agent trajectories


class Usage(Record):
    """Cost accounting, summed per stage."""

    calls: int = Field(0, description="LLM calls made (cached answers not counted)")
    prompt_tokens: int = Field(0, description="prompt tokens sent")
    completion_tokens: int = Field(0, description="completion tokens received")
    seconds: float = Field(0.0, description="wall-clock seconds spent in calls")

    def add(self, other: Usage) -> Usage:
        return Usage(
            calls=self.calls + other.calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            seconds=self.seconds + other.seconds,
        )


class TrajectoryStep(Record):
    kind: Literal["search", "open", "answer", "error"] = Field(description="the action taken")
    query: str | None = Field(None, description="search query (search steps)")
    results: list[SearchHit] | None = Field(None, description="ranked results (search steps)")
    doc_id: str | None = Field(None, description="document opened (open steps)")
    answer: str | None = Field(None, description="final answer (answer steps)")
    cited_doc_ids: list[str] | None = Field(None, description="documents cited (answer steps)")
    error: str | None = Field(None, description="what went wrong: an unparsable action, a missing document, ...")
    thought: str | None = Field(None, description="the model's reasoning before the action")


class Trajectory(Record):
    """One attempt of the search agent on one question (PAPER.md 2b)."""

    question_id: str = Field(description="the question attempted")
    attempt: int = Field(description="1-based attempt number (up to K per question)")
    steps: list[TrajectoryStep] = Field(default_factory=list, description="every action, in order")
    final_answer: str = Field("", description="the answer given (empty when none)")
    cited_doc_ids: list[str] = Field(default_factory=list, description="documents the answer cites")
    correct: bool = Field(False, description="the outcome scorer accepted the answer")
    judge: dict[str, Any] = Field(default_factory=dict, description="the outcome scorer's verdict and details")
    usage: Usage = Field(default_factory=Usage, description="LLM cost of the attempt")
    agent: str = Field("", description="which agent produced it")
    # why the attempt ended: "answered", "turn_limit", "llm_error", "empty_answer", "agent_error"
    end_reason: str = Field("", description="why the attempt ended: answered, turn_limit, llm_error, empty_answer, agent_error")

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
    doc_id: str = Field(description="a document of the context")
    tier: Tier = Field(description="why it is there: gold page, Tier-1/Tier-2 distractor or random fill")
    n_tokens: int = Field(description="tokens of its wrapped section")
    position: int = Field(-1, description="0-based place in the shuffled context (-1 before the shuffle)")


class Sample(Record):
    """One assembled long-context training example (PAPER.md 2d)."""

    sample_id: str = Field(description="stable id of the sample")
    question_id: str = Field(description="the question it asks")
    messages: list[dict[str, str]] = Field(description="the chat prompt: documents and question")
    label: str = Field(description="the gold answer")
    rubrics: list[str] = Field(description="gold entities rewarded when the response names them")
    question: str = Field(description="the question text")
    docs: list[ContextDoc] = Field(description="the documents of the context, in context order")
    n_tokens: int = Field(description="tokens of the whole prompt")
    tokenizer: str = Field(description="tokenizer that counted them")
    strategy: str = Field("trajectory_tiered", description="distractor strategy used")
    seed: int = Field(0, description="seed of the assembly (instruction choice, shuffle, fill)")
    dataset_name: str = Field("longqa", description="dataset name written into the exports")
    details: dict[str, Any] = Field(default_factory=dict, description="assembly facts: instruction index, budget, scaffold tokens, fill count, removed distractors")
    rubric_aliases: dict[str, list[str]] = Field(default_factory=dict, description="other names of each rubric "
                                                 "entity that also count (full title, graph aliases)")


# ---------------------------------------------------------------- reward


class RewardResult(Record):
    """The reward of one response, with everything needed to audit it.

    A judge that could not decide (every try failed or gave no readable verdict) is an error state, never an
    outcome: ``error`` says why and ``outcome``, ``rubric_normalized`` and ``reward`` are None; the response
    is left out of its group's max and normalization, and each trainer adapter drops or masks it."""

    outcome: float | None = Field(description="outcome score of the answer (0..1); None when the judge failed")
    rubric_raw: float = Field(description="share of rubric entities named")
    rubric_normalized: float | None = Field(
        description="rubric score divided by the group maximum (when normalizing); None when the judge failed")
    reward: float | None = Field(description="the combined reward; None when the judge failed (error set)")
    error: str | None = Field(None, description="why the outcome could not be decided (judge failure), else None")
    matched_entities: list[str] = Field(default_factory=list, description="rubric entities found in the response")
    details: dict[str, Any] = Field(default_factory=dict, description="everything else needed to audit it")


# ---------------------------------------------------------------- the declared contracts


def record_types() -> dict[str, type[Record]]:
    """Every record class of this module by name (the source of ``longtracerl schema``)."""
    out: dict[str, type[Record]] = {}
    todo: list[type[Record]] = [Record]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub.__module__ == __name__ and sub.__name__ not in out:
                out[sub.__name__] = sub
                todo.append(sub)
    return dict(sorted(out.items()))
