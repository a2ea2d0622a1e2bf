"""Streaming readers of the report: stage files read once, memory growing with ids and a few numbers per
item, never with the records (the report of a 100,000-sample run must not hold its samples)."""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from longtracerl.io import OffsetIndex, iter_jsonl, iter_records
from longtracerl.pipeline.context import RunContext
from longtracerl.records import Question, Trajectory


class QuestionLookup:
    """question_id -> Question read from questions.jsonl on demand (an offset index: ids in memory, not records)."""

    def __init__(self, path: Path) -> None:
        self.index = OffsetIndex(path, "question_id")
        self._last: Question | None = None

    def __len__(self) -> int:
        return len(self.index)

    def get(self, question_id: str) -> Question | None:
        if self._last is not None and self._last.question_id == question_id:
            return self._last
        line = self.index.get(question_id)
        self._last = None if line is None else Question.model_validate_json(line)
        return self._last

    def close(self) -> None:
        self.index.close()


class RunningMean:
    """A running mean of the values that are not None: ``_macro`` without the list, summed exactly (as
    ``statistics.mean`` does) so the figure does not depend on the order of the samples."""

    def __init__(self) -> None:
        self.total, self.n = Fraction(0), 0

    def add(self, x: float | None) -> None:
        if x is not None:
            self.total += Fraction(x)
            self.n += 1

    def value(self) -> float | None:
        return float(self.total / self.n) if self.n else None


def round_mean(values: Sequence[int], nd: int) -> float:
    return round(sum(values) / len(values), nd) if len(values) else 0


def sample_heads(path: Path) -> Iterator[dict[str, Any]]:
    """Each sample without its prompt (the prompt is most of a sample's bytes and no statistic needs it)."""
    for _, o in iter_jsonl(path) if path.exists() else ():
        o.pop("messages", None)
        yield o


def traj_summary(ctx: RunContext) -> dict[str, Any]:
    """What the report needs of the trajectories, in one pass: counts per trajectory and the solved ids."""
    searches, opens = array_q(), array_q()
    agents: set[str] = set()
    solved: set[str] = set()
    for t in iter_records(ctx.trajectories, Trajectory):
        searches.append(sum(1 for s in t.steps if s.kind == "search"))
        opens.append(len(t.opened_doc_ids))
        agents.add(t.agent)
        solved.add(t.question_id)
    return {"n": len(searches), "searches": searches, "opens": opens, "agents": sorted(agents), "solved": solved}


def array_q() -> Any:
    return array("q")


def mean_or_none(values: Sequence[int]) -> float | None:
    return round(sum(values) / len(values), 2) if len(values) else None
