"""Run an agent over questions, up to K attempts each; keep the first correct trajectory (PAPER.md 2b).

Resumable: questions already in the trajectories file or rejected by this stage are skipped, and the
files are put in canonical (question) order at the end, so a killed and rerun stage writes the same
bytes as an uninterrupted one (given a deterministic agent or cached LLM answers).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, Field

from longtracerl.io import JsonlAppender, iter_jsonl, rewrite_in_order, write_records
from longtracerl.records import Question, Rejection, Trajectory, Usage
from longtracerl.reward.outcome_base import OutcomeScorer

STAGE = "agent"


@runtime_checkable
class SearchAgent(Protocol):
    """One ``solve`` call is one attempt; attempts are numbered from 1."""

    async def solve(self, question: Question, attempt: int) -> Trajectory: ...


class CollectStats(BaseModel):
    """What one ``collect_trajectories`` call did (``skipped`` were done by an earlier run)."""

    questions: int = 0
    skipped: int = 0
    solved: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = Field(default_factory=dict)
    attempts: int = 0
    solved_at_attempt: dict[int, int] = Field(default_factory=dict)
    end_reasons: dict[str, int] = Field(default_factory=dict)
    error_steps: int = 0
    usage: Usage = Field(default_factory=Usage)
    seconds: float = 0.0


async def score_trajectory(traj: Trajectory, question: Question, scorer: OutcomeScorer) -> Trajectory:
    """Judge the final answer against the gold answer and its aliases; never raises."""
    if not traj.final_answer.strip():
        traj.correct = False
        traj.judge = {
            "scorer": scorer.name,
            "score": 0.0,
            "correct": False,
            "reason": traj.end_reason or "no_answer",
        }
        return traj
    try:
        r = await scorer.score(
            traj.final_answer, question.answer, question=question.question, aliases=question.answer_aliases
        )
    except Exception as e:  # a scorer that crashes must not take the whole stage down
        traj.correct = False
        traj.judge = {
            "scorer": scorer.name,
            "score": 0.0,
            "correct": None,
            "error": f"{type(e).__name__}: {e}",
        }
        return traj
    traj.correct = bool(r.correct)
    traj.judge = {
        "scorer": scorer.name,
        "score": r.score,
        "correct": r.correct,
        "error": r.error,
        "details": r.details,
    }
    return traj


def _rejection_reason(tries: list[Trajectory]) -> tuple[str, str]:
    ends = Counter(t.end_reason or "unknown" for t in tries)
    detail = ", ".join(f"{k}={v}" for k, v in sorted(ends.items()))
    answered = [t for t in tries if t.final_answer.strip()]
    if answered:
        # an attempt the judge could not decide may have been right: the question is not "unsolved"
        undecided = sum(1 for t in answered if t.judge.get("correct") is None)
        if undecided:
            return "scorer_error", f"{detail}; judge undecided on {undecided} of {len(answered)} answered attempts"
        return "unsolved", detail
    if ends.get("llm_error", 0) == len(tries):
        return "llm_error", detail
    if ends.get("agent_error", 0) == len(tries):
        return "agent_error", detail
    return "no_answer", detail


def _sort_stage_rows(path: Path, order: list[str]) -> None:
    """Sort this stage's rejections into question order, in place among the rows they occupy.

    The rejections file is shared with other stages: their rows keep their positions.
    """
    if not path.exists():
        return
    rows = [obj for _, obj in iter_jsonl(path)]
    slots = [i for i, o in enumerate(rows) if o.get("stage") == STAGE]
    rank = {k: i for i, k in enumerate(order)}
    mine = sorted((rows[i] for i in slots), key=lambda o: rank.get(str(o.get("item_id")), len(rank)))
    for i, o in zip(slots, mine, strict=True):
        rows[i] = o
    write_records(path, rows)


async def collect_trajectories(
    questions: Sequence[Question],
    agent: SearchAgent,
    scorer: OutcomeScorer,
    out_path: Path | str,
    rejects_path: Path | str,
    *,
    attempts: int = 5,
    concurrency: int = 8,
    progress: bool = True,
    attempts_path: Path | str | None = None,
) -> CollectStats:
    """Solve each question up to ``attempts`` times; write the first correct trajectory or a rejection.

    ``attempts_path`` (optional) receives every attempt, keyed ``<question_id>#<attempt>``, for audits.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    t0 = time.perf_counter()
    stats = CollectStats(questions=len(questions))
    out = JsonlAppender(out_path, "question_id")
    rej = JsonlAppender(rejects_path, "item_id")
    done_rejected = (
        {str(o.get("item_id")) for _, o in iter_jsonl(rej.path) if o.get("stage") == STAGE}
        if rej.path.exists()
        else set()
    )
    log = JsonlAppender(attempts_path, "attempt_id") if attempts_path is not None else None
    todo = [q for q in questions if q.question_id not in out and q.question_id not in done_rejected]
    stats.skipped = len(questions) - len(todo)
    sem = asyncio.Semaphore(max(1, concurrency))

    async def run_one(q: Question) -> None:
        async with sem:
            tries: list[Trajectory] = []
            for a in range(1, attempts + 1):
                try:
                    traj = await agent.solve(q, a)
                except Exception as e:  # a bug or bad input in one question must not stop the stage
                    traj = Trajectory(
                        question_id=q.question_id,
                        attempt=a,
                        end_reason="agent_error",
                        agent=getattr(agent, "name", type(agent).__name__),
                    )
                    traj.judge = {"error": f"{type(e).__name__}: {e}"}
                else:
                    traj = await score_trajectory(traj, q, scorer)
                tries.append(traj)
                stats.attempts += 1
                stats.usage = stats.usage.add(traj.usage)
                stats.error_steps += sum(1 for s in traj.steps if s.kind == "error" or s.error)
                stats.end_reasons[traj.end_reason] = stats.end_reasons.get(traj.end_reason, 0) + 1
                if log is not None:
                    log.write({"attempt_id": f"{q.question_id}#{a}", **traj.model_dump(mode="json")})
                if traj.correct:
                    out.write(traj)
                    stats.solved += 1
                    stats.solved_at_attempt[a] = stats.solved_at_attempt.get(a, 0) + 1
                    return
            reason, detail = _rejection_reason(tries)
            rej.write(
                Rejection(
                    item_id=q.question_id, stage=STAGE, reason=reason, detail=detail, attempts=len(tries)
                )
            )
            stats.rejected += 1
            stats.rejected_by_reason[reason] = stats.rejected_by_reason.get(reason, 0) + 1

    try:
        if progress and todo:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(
                TextColumn("[bold]agent[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("solved {task.fields[solved]} dropped {task.fields[dropped]}"),
                TimeElapsedColumn(),
            ) as bar:
                task = bar.add_task("agent", total=len(todo), solved=0, dropped=0)

                async def tracked(q: Question) -> None:
                    await run_one(q)
                    bar.update(task, advance=1, solved=stats.solved, dropped=stats.rejected)

                await asyncio.gather(*(tracked(q) for q in todo))
        else:
            await asyncio.gather(*(run_one(q) for q in todo))
    finally:
        out.close()
        rej.close()
        if log is not None:
            log.close()
    order = [q.question_id for q in questions]
    rewrite_in_order(out_path, "question_id", order)
    _sort_stage_rows(Path(rejects_path), order)
    if attempts_path is not None:
        rewrite_in_order(
            attempts_path, "attempt_id", [f"{qid}#{a}" for qid in order for a in range(1, attempts + 1)]
        )
    stats.seconds = time.perf_counter() - t0
    return stats
