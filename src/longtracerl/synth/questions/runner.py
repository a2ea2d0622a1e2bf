"""Write validated questions for many chains: concurrent, resumable, byte-identical on rerun."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field

from longtracerl.graph.walk_variety import VarietyLimits, repeats
from longtracerl.io import JsonlAppender, iter_jsonl, rewrite_in_order, write_records
from longtracerl.llm.base import LLMError
from longtracerl.records import Chain, Document, Question, Rejection, Usage, WriterInfo
from longtracerl.synth.questions.checks import chain_checks, check_answer_kind
from longtracerl.synth.questions.clues import ClueContext, ClueFailure
from longtracerl.synth.questions.validate import Draft, ValidationConfig, used_hops, validate
from longtracerl.synth.rubrics import rubric_entities

AliasesOf = Callable[[str], Sequence[str]]
BASIC_CHECKS = ("fields", "question_length", "answer_short", "answer_in_last_document", "no_leak",
                "gold_from_chain", "hop_coverage")


class QuestionWriter(Protocol):
    """What the runner needs of a writer (template or LLM): one draft per call, or a ``ClueFailure`` (the
    writer's own named rejection), or None for an unparsable reply; ``deterministic`` writers get one attempt
    (a retry would repeat the draft); ``clues`` is the writer's graph and search context, if it has one."""

    backend: str
    model: str
    prompt_version: str
    deterministic: bool
    clues: ClueContext | None

    async def adraft(self, chain: Chain, docs: dict[str, Document], feedback: str = "",
                     seed: int = 0) -> tuple[Draft | ClueFailure | None, str, Usage]: ...


class QuestionStats(BaseModel):
    accepted: int = 0
    rejected: int = 0
    skipped_done: int = 0
    kept_shortcut: int = 0  # accepted although one search finds the answer's page (validation.shortcut=keep)
    hygiene_pieces_dropped: dict[str, int] = Field(default_factory=dict)  # template clue candidates, by kind
    llm_calls: int = 0
    reasons: dict[str, int] = Field(default_factory=dict)
    usage: Usage = Field(default_factory=Usage)


def question_id(chain_id: str) -> str:
    return f"q-{chain_id}"


def _seed(chain_id: str, attempt: int) -> int:
    return int(hashlib.sha1(f"{chain_id}:{attempt}".encode()).hexdigest()[:8], 16)


async def write_one(chain: Chain, docstore: Any, writer: QuestionWriter, cfg: ValidationConfig,
                    max_attempts: int = 3, clues: ClueContext | None = None,
                    aliases_of: AliasesOf | None = None) -> tuple[Question | Rejection, int, Usage]:
    """One chain -> an accepted Question or a Rejection with the last reason; returns LLM calls and usage.

    ``clues`` (graph + search) enables the ``hop_ambiguous`` and ``shortcut`` checks; ``off_chain`` always runs.
    ``aliases_of(title)``: other names of a chain entity (e.g. the graph's), kept as rubric aliases.
    """
    if clues is None:
        clues = getattr(writer, "clues", None)  # a writer of one's own may leave both out: no context, retries
    deterministic = bool(getattr(writer, "deterministic", False))
    docs: dict[str, Document] = {}
    for h in chain.hops:
        d = docstore.get(h.doc_id) if h.doc_id else None
        if d is None:
            return (Rejection(item_id=chain.chain_id, stage="questions", reason="missing_document",
                              detail=f"hop {h.title!r} doc {h.doc_id!r}", attempts=0), 0, Usage())
        docs[d.doc_id] = d
    usage, calls, feedback, last = Usage(), 0, "", ("no_attempt", "")
    n_attempts = 1 if deterministic else max_attempts  # a deterministic writer would repeat itself
    for attempt in range(1, n_attempts + 1):
        try:
            calls += 0 if deterministic else 1
            made, raw, u = await writer.adraft(chain, docs, feedback, seed=_seed(chain.chain_id, attempt))
            usage = usage.add(u)
        except LLMError as e:
            last = ("llm_error", str(e))
            feedback = ""
            continue
        if isinstance(made, ClueFailure):  # the writer found no way to pin a hop: its reason is the rejection
            last = (made.reason, made.detail)
            break
        if made is None:
            last = ("unparsable", raw[:200])
            feedback = "the reply was not the requested JSON object"
            continue
        draft = made
        kind = check_answer_kind(draft, chain, docs)
        fails = validate(draft, chain, docs, cfg) + kind.fails
        details: dict[str, Any] = dict(kind.details)
        ran: list[str] = []
        if not fails:
            rep = chain_checks(draft, chain, clues, cfg)
            fails, details, ran = rep.fails, {**details, **rep.details}, [*kind.ran, *rep.ran]
        if not fails:
            # only the checks that ran; a shortcut kept by policy (shortcut=keep) did not pass its check
            passed = [*BASIC_CHECKS, *(c for c in ran if not (c == "no_shortcut" and details.get("shortcut")))]
            clue_list = (list(draft.hop_clues) + [""] * len(chain.hops))[: len(chain.hops)]
            gold = list(dict.fromkeys(draft.gold_entities))
            rubrics, rubric_aliases = rubric_entities(gold, aliases_of)
            q = Question(
                question_id=question_id(chain.chain_id), chain_id=chain.chain_id, question=draft.question.strip(),
                answer=draft.answer.strip(), answer_aliases=draft.answer_aliases,
                gold_entities=gold, rubrics=rubrics, rubric_aliases=rubric_aliases,
                gold_doc_ids=list(dict.fromkeys(h.doc_id for h in used_hops(draft, chain) if h.doc_id)),
                writer=WriterInfo(backend=writer.backend, model=writer.model, prompt_version=writer.prompt_version),
                validation={"passed": passed, **details, **draft.info},
                attempts=attempt, hop_clues=clue_list)
            return q, calls, usage
        last = fails[0]
        feedback = "; ".join(f"{r} ({d})" for r, d in fails)
    rej = Rejection(item_id=chain.chain_id, stage="questions", reason=last[0], detail=last[1][:500],
                    attempts=n_attempts)
    return rej, calls, usage


def cap_repeats(out_path: Path | str, rejects_path: Path | str, *, max_per_answer: int, max_per_hub: int) -> int:
    """Walk the questions in chain order and keep one only while its answer entity (the last gold page) and its
    answer text (an attribute such as a government type is shared by many entities) have fewer than
    ``max_per_answer`` kept questions each, and each of its middle pages (the gold pages between the seed
    and the answer) fewer than ``max_per_hub``; the rest become ``answer_repeated`` / ``hub_repeated``
    rejections (0: no limit). Walks converge on hubs (a much-linked country, a prolific director), and a hub met
    again and again is pinned by the same clue again and again, which a model learns as a shortcut.
    Deterministic (it reads the ordered file), idempotent on rerun, and run once over the whole stage file (not
    per shard), so every executor keeps the same questions. Returns how many were dropped."""
    answers: Counter[str] = Counter()
    texts: Counter[str] = Counter()  # the answer as written: many countries' government type is one string
    hubs: Counter[str] = Counter()
    keep: list[dict[str, Any]] = []
    dropped: list[Rejection] = []
    for o in iter_jsonl(out_path):
        row = o[1]
        gold = list(row.get("gold_doc_ids") or [])
        answer = (gold or [row.get("answer", "")])[-1]
        middle = [d for d in dict.fromkeys(gold[1:-1]) if d != answer]
        text = " ".join(str(row.get("answer", "")).casefold().split())
        if max_per_answer and (answers[answer] >= max_per_answer or (text and texts[text] >= max_per_answer)):
            what = f"end at {answer!r}" if answers[answer] >= max_per_answer else f"have the answer {text!r}"
            dropped.append(Rejection(item_id=row["chain_id"], stage="questions", reason="answer_repeated",
                                     detail=f"{max_per_answer} questions already {what}", attempts=0))
            continue
        busy = [d for d in middle if max_per_hub and hubs[d] >= max_per_hub]
        if busy:
            dropped.append(Rejection(item_id=row["chain_id"], stage="questions", reason="hub_repeated",
                                     detail=f"{max_per_hub} questions already pass through {busy[0]!r}", attempts=0))
            continue
        answers[answer] += 1
        texts[text] += 1
        hubs.update(middle)
        keep.append(row)
    if dropped:
        write_records(out_path, keep)
        rej = JsonlAppender(rejects_path, "item_id")
        for r in dropped:
            rej.write(r)
        rej.close()
    return len(dropped)


async def write_questions(chains: Sequence[Chain], docstore: Any, writer: QuestionWriter, out_path: Path | str,
                          rejects_path: Path | str, *, concurrency: int = 8, max_attempts: int = 3,
                          validation: ValidationConfig | None = None, progress: bool = True,
                          clues: ClueContext | None = None, aliases_of: AliasesOf | None = None,
                          cap: bool = True) -> QuestionStats:
    """Questions for ``chains`` into ``out_path`` and Rejections into ``rejects_path``; chains already in
    either file are skipped, and both files end in chain order whatever the completion order was.

    ``cap``: apply ``cap_repeats`` at the end; the build's stage passes False and caps once over the whole
    stage file after every shard is in (a shard alone cannot see the others' answers and hubs)."""
    cfg = validation or ValidationConfig()
    stats = QuestionStats()
    out = JsonlAppender(out_path, "chain_id")
    rej = JsonlAppender(rejects_path, "item_id")
    todo = [c for c in chains if c.chain_id not in out.seen and c.chain_id not in rej.seen]
    stats.skipped_done = len(chains) - len(todo)
    # the same path walked twice, or walks converging on a hub (same answer, same way to it): the build's walk
    # stage re-walks or rejects these over the whole walk file (graph.walk_variety); here for any other caller
    same = repeats(chains, VarietyLimits(max_per_hub=0, max_per_answer=0, same_tail_hops=cfg.same_tail_hops))
    dup_ids = {c.chain_id for c in todo if c.chain_id in same}
    for c in todo:
        if c.chain_id in dup_ids:
            reason, detail = same[c.chain_id]
            rej.write(Rejection(item_id=c.chain_id, stage="questions", reason=reason, detail=detail, attempts=0))
            stats.rejected += 1
    todo = [c for c in todo if c.chain_id not in dup_ids]
    sem = asyncio.Semaphore(concurrency)
    bar: Any = None
    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        bar = Progress("[bold]questions", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        bar.start()
        task = bar.add_task("q", total=len(todo))

    async def one(c: Chain) -> None:
        async with sem:
            res, calls, usage = await write_one(c, docstore, writer, cfg, max_attempts, clues, aliases_of)
        stats.llm_calls += calls
        stats.usage = stats.usage.add(usage)
        if isinstance(res, Question):
            out.write(res)
            stats.accepted += 1
            stats.kept_shortcut += 1 if res.validation.get("shortcut") else 0
        else:
            rej.write(res)
            stats.rejected += 1
        if bar is not None:
            bar.advance(task)

    try:
        await asyncio.gather(*(one(c) for c in todo))
    finally:
        out.close()
        rej.close()
        if bar is not None:
            bar.stop()
    if clues is None:
        clues = getattr(writer, "clues", None)
    if clues is not None:
        stats.hygiene_pieces_dropped = dict(sorted(clues.hygiene_rejects.items()))
    order = [c.chain_id for c in chains]
    rewrite_in_order(out_path, "chain_id", order)
    if cap and (cfg.max_per_answer or cfg.max_per_hub):
        capped = cap_repeats(out_path, rejects_path, max_per_answer=cfg.max_per_answer, max_per_hub=cfg.max_per_hub)
        stats.accepted -= capped
        stats.rejected += capped
    if Path(rejects_path).exists():
        rewrite_in_order(rejects_path, "item_id", order)
        stats.reasons = dict(Counter(o.get("reason", "") for _, o in iter_jsonl(rejects_path)
                                     if o.get("stage") == "questions"))
    return stats
