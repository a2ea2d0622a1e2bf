"""The stages of ``longtracerl build``: small blocks that read the previous stage's file and append their own.

Each stage is resumable on its own: ids already in its output (or rejected by it) are skipped, randomness
comes from (seed, item id), and a finished stage rewrites its files in canonical order and marks itself
done in ``manifest.json``. Per-item stages (questions, agent, assembly) expose ``run_items(ctx, items,
out, rejected)`` so an executor can run them over shards writing part files (see ``executors``).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from longtracerl.io import (
    JsonlAppender,
    iter_jsonl,
    iter_records,
    read_records,
    rewrite_in_order,
    write_records,
)
from longtracerl.pipeline.context import RunContext
from longtracerl.records import Chain, Question, Rejection, Sample, Trajectory

STAGE_ORDER = ["walk", "questions", "agent", "assembly", "export", "report"]


def canonical_rejections(path: Path) -> None:
    """Sort rejected.jsonl by (stage, item id): the same bytes whatever order items finished in."""
    if not path.exists():
        return
    rows = [o for _, o in iter_jsonl(path)]
    rank = {s: i for i, s in enumerate(STAGE_ORDER)}
    rows.sort(key=lambda o: (rank.get(str(o.get("stage")), len(rank)), str(o.get("item_id"))))
    write_records(path, rows)


class Stage:
    name: ClassVar[str] = ""
    per_item: ClassVar[bool] = False

    def run(self, ctx: RunContext) -> dict[str, Any]:
        raise NotImplementedError


# ---------------------------------------------------------------------------- walk


class WalkStage(Stage):
    name = "walk"

    def walk_config(self, ctx: RunContext) -> Any:
        from longtracerl.graph.walk import WalkConfig

        w = ctx.cfg.walk
        return WalkConfig(n_walks=w.n_chains, seed=ctx.cfg.seed, max_hops=w.hops,
                          min_hops=w.hops if w.min_hops is None else w.min_hops,
                          max_candidates=w.max_candidates, jump_prob=w.jump_prob)

    def chooser(self, ctx: RunContext) -> Any:
        from longtracerl.graph.simple_choosers import CHOOSERS

        if ctx.cfg.walk.chooser != "llm":
            return CHOOSERS[ctx.cfg.walk.chooser]()
        from longtracerl.llm.walk_chooser import LLMWalkChooser

        llm = ctx.llm("walk")
        if llm is None:
            raise ValueError("walk.chooser=llm needs an LLM: --llm local or --llm openai --base-url ...")
        return LLMWalkChooser(llm)

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from longtracerl.graph.write import arun_walks, run_walks

        wc = self.walk_config(ctx)
        chooser = self.chooser(ctx)
        if ctx.cfg.walk.chooser == "llm":
            info = asyncio.run(arun_walks(ctx.graph, wc, chooser, ctx.chains, rejected_path=ctx.rejected,
                                          docstore=ctx.docstore, concurrency=ctx.cfg.walk.concurrency))
            info = {**info, "chooser": chooser.name}
        else:
            info = run_walks(ctx.graph, wc, chooser, ctx.chains, rejected_path=ctx.rejected, docstore=ctx.docstore)
        info["variety"] = self.after_walks(ctx, chooser)
        if ctx.cfg.walk.chooser == "llm":
            info["chooser_counters"] = chooser.counters
        return info

    def after_walks(self, ctx: RunContext, chooser: Any = None) -> dict[str, Any]:
        """Repeats re-walked and what stays a repeated path or tail rejected (``graph.walk_variety``), over the
        whole ordered walk file once every walk is in (every executor calls it). The decision is written to
        ``walk_variety.json`` before it is applied, and a rerun applies that file again instead of deciding anew,
        so a crash between the two writes changes nothing."""
        import json

        from longtracerl.graph.walk_variety import VarietyLimits, diversify

        side = ctx.chains.with_name("walk_variety.json")
        if not side.exists():
            q = ctx.cfg.questions
            limits = VarietyLimits(max_per_hub=q.max_per_hub, max_per_answer=q.max_per_answer,
                                   same_tail_hops=q.same_tail_hops, rounds=ctx.cfg.walk.rewalk_rounds)
            before = read_records(ctx.chains, Chain)
            res = diversify(ctx.graph, self.walk_config(ctx), chooser or self.chooser(ctx), before, limits,
                            ctx.docstore)
            old = {c.chain_id: c for c in before}
            decision = {"replaced": [c.model_dump(mode="json") for c in res.chains if c != old[c.chain_id]],
                        "rejected": [r.model_dump(mode="json") for r in res.rejected], "stats": res.stats}
            tmp = side.with_suffix(".tmp")
            tmp.write_text(json.dumps(decision, ensure_ascii=False))
            os.replace(tmp, side)
        decision = json.loads(side.read_text())
        new = {o["chain_id"]: o for o in decision["replaced"]}
        gone = {o["item_id"] for o in decision["rejected"]}
        rows = [new.get(o["chain_id"], o) for _, o in iter_jsonl(ctx.chains) if o["chain_id"] not in gone]
        write_records(ctx.chains, rows)
        with JsonlAppender(ctx.rejected, "item_id") as rej:
            for r in decision["rejected"]:
                rej.write(r)
        canonical_rejections(ctx.rejected)
        return dict(decision["stats"])


# ---------------------------------------------------------------------------- per-item stages


class ItemStage(Stage):
    """A stage over items of the previous stage's file; ``run_items`` does a subset into given files.

    A stage declares what it reads, once, here: ``input_file`` (its items, keyed by ``input_key``) and
    ``deps`` (another file whose records its items need: file name, id key in that file, the item field
    holding that id). The executors read these; they repeat nothing."""

    per_item = True
    out_key: ClassVar[str] = ""
    item_model: ClassVar[type[BaseModel]] = BaseModel
    input_file: ClassVar[str] = ""
    input_key: ClassVar[str] = ""
    deps: ClassVar[tuple[str, str, str] | None] = None

    def items(self, ctx: RunContext) -> list[Any]:
        raise NotImplementedError

    def item_id(self, item: Any) -> str:
        raise NotImplementedError

    def run_items(self, ctx: RunContext, items: list[Any], out: Path, rejected: Path) -> dict[str, Any]:
        raise NotImplementedError

    def order(self, ctx: RunContext) -> list[str]:
        return [self.out_id(i) for i in self.items(ctx)]

    def out_id(self, item: Any) -> str:
        return self.item_id(item)

    def out_path(self, ctx: RunContext) -> Path:
        raise NotImplementedError

    def after_order(self, ctx: RunContext) -> dict[str, Any]:
        """Work over the whole ordered stage file once every shard is in (every executor calls it after
        ordering): decisions a shard alone cannot make. Returns stats to merge."""
        return {}

    def finalize(self, ctx: RunContext) -> dict[str, Any]:
        rewrite_in_order(self.out_path(ctx), self.out_key, self.order(ctx))
        extra = self.after_order(ctx)
        canonical_rejections(ctx.rejected)
        return extra

    def run(self, ctx: RunContext) -> dict[str, Any]:
        stats = self.run_items(ctx, self.items(ctx), self.out_path(ctx), ctx.rejected)
        return {**stats, **self.finalize(ctx)}


class QuestionStage(ItemStage):
    name = "questions"
    out_key = "chain_id"
    item_model = Chain
    input_file, input_key = "chains.jsonl", "chain_id"

    def items(self, ctx: RunContext) -> list[Chain]:
        return read_records(ctx.chains, Chain)

    def item_id(self, item: Chain) -> str:
        return item.chain_id

    def out_path(self, ctx: RunContext) -> Path:
        return ctx.questions

    def clues(self, ctx: RunContext) -> Any:
        from longtracerl.synth.questions.clues import ClueConfig, ClueContext

        q = ctx.cfg.questions
        return ClueContext(ctx.docstore, ctx.graph, ctx.search, ClueConfig(hop_margin=q.hop_margin,
                           reader_margin=q.reader_margin), seed=ctx.cfg.seed)

    def validation(self, ctx: RunContext) -> Any:
        from longtracerl.synth.questions import ValidationConfig

        q = ctx.cfg.questions
        return ValidationConfig(hop_margin=q.hop_margin, shortcut=q.shortcut, min_on_chain=q.min_on_chain,
                                same_tail_hops=q.same_tail_hops, max_per_answer=q.max_per_answer,
                                max_per_hub=q.max_per_hub)

    def writer(self, ctx: RunContext, clues: Any = None) -> Any:
        from longtracerl.synth.questions import LLMQuestionWriter, TemplateQuestionWriter

        kind = ctx.cfg.questions.writer
        if kind == "auto":
            kind = "template" if ctx.cfg.llm.kind == "none" else "llm"
        if kind == "template":
            return TemplateQuestionWriter(clues, jump_mode=ctx.cfg.questions.jump_mode)
        llm = ctx.llm("questions")
        if llm is None:
            raise ValueError("questions.writer=llm needs an LLM: --llm local or --llm openai --base-url ...")
        return LLMQuestionWriter(llm)

    def run_items(self, ctx: RunContext, items: list[Chain], out: Path, rejected: Path) -> dict[str, Any]:
        from longtracerl.synth.questions import write_questions

        q = ctx.cfg.questions
        graph = ctx.graph

        def aliases_of(title: str) -> list[str]:  # the graph's other names of a chain entity
            node = graph.node_by_title(title)
            return [] if node is None else list(graph.aliases[node])

        clues = self.clues(ctx)
        st = asyncio.run(write_questions(items, ctx.docstore, self.writer(ctx, clues), out, rejected,
                                         concurrency=q.concurrency, max_attempts=q.attempts,
                                         progress=ctx.progress, validation=self.validation(ctx), clues=clues,
                                         aliases_of=aliases_of, cap=False))
        return st.model_dump(mode="json")

    def after_order(self, ctx: RunContext) -> dict[str, Any]:
        """At most ``max_per_answer`` questions per answer and ``max_per_hub`` per middle page, decided once over
        the whole ordered file (``cap_repeats``), so local and Ray builds keep the same questions."""
        from longtracerl.synth.questions.runner import cap_repeats

        q = ctx.cfg.questions
        if not (q.max_per_answer or q.max_per_hub):
            return {}
        return {"capped_repeats": cap_repeats(ctx.questions, ctx.rejected, max_per_answer=q.max_per_answer,
                                              max_per_hub=q.max_per_hub)}


class AgentStage(ItemStage):
    name = "agent"
    out_key = "question_id"
    item_model = Question
    input_file, input_key = "questions.jsonl", "question_id"
    deps = ("chains.jsonl", "chain_id", "chain_id")  # the chain-guided agent reads the question's chain

    def items(self, ctx: RunContext) -> list[Question]:
        return read_records(ctx.questions, Question)

    def item_id(self, item: Question) -> str:
        return item.question_id

    def out_path(self, ctx: RunContext) -> Path:
        return ctx.trajectories

    def agent(self, ctx: RunContext) -> Any:
        from longtracerl.synth.agent import ChainGuidedAgent, ClueSolver, LLMSearchAgent

        a = ctx.cfg.agent
        kind = a.kind
        if kind == "auto":
            kind = "solver" if ctx.cfg.llm.kind == "none" else "llm"
        if kind == "solver":
            return ClueSolver(ctx.search, k=a.solver_k, seed=ctx.cfg.seed, workers=a.concurrency)
        if kind == "chain_guided":
            chains = {c.chain_id: c for c in read_records(ctx.chains, Chain)}
            return ChainGuidedAgent(ctx.search, chains.get, k=a.k, seed=ctx.cfg.seed)
        llm = ctx.llm("agent")
        if llm is None:
            raise ValueError("agent.kind=llm needs an LLM: --llm local or --llm openai --base-url ...")
        ctx_tokens = 6000 if ctx.cfg.llm.kind == "local" else None
        return LLMSearchAgent(llm, ctx.search, protocol=a.protocol, max_turns=a.max_turns, max_open=a.max_open,
                              obs_max_tokens=a.obs_max_tokens, k=a.k, seed=ctx.cfg.seed,
                              context_max_tokens=ctx_tokens, max_tokens=a.max_tokens)

    def scorer(self, ctx: RunContext) -> Any:
        from longtracerl.reward import get_outcome_scorer

        o = ctx.cfg.outcome
        name = o.scorer
        if name == "judge":  # the reward's judge and decision rule (reward/judge.py) decide what "solved" means
            llm = ctx.llm("judge")
            if llm is None:
                raise ValueError("outcome.scorer=judge needs an LLM: --llm local or --llm openai --base-url ...")
            return get_outcome_scorer("judge", llm=llm, cache_path=ctx.cache_dir / "judge.sqlite",
                                      prompt=o.judge_prompt, prompt_file=o.judge_prompt_file, tries=o.judge_tries,
                                      max_tokens=o.judge_max_tokens)
        return get_outcome_scorer(name)

    def run_items(self, ctx: RunContext, items: list[Question], out: Path, rejected: Path) -> dict[str, Any]:
        from longtracerl.synth.agent import collect_trajectories

        a = ctx.cfg.agent
        st = asyncio.run(collect_trajectories(items, self.agent(ctx), self.scorer(ctx), out, rejected,
                                              attempts=a.attempts, concurrency=a.concurrency,
                                              progress=ctx.progress))
        return st.model_dump(mode="json")


class AssemblyStage(ItemStage):
    name = "assembly"
    out_key = "question_id"
    item_model = Trajectory
    input_file, input_key = "trajectories.jsonl", "question_id"
    deps = ("questions.jsonl", "question_id", "question_id")

    def items(self, ctx: RunContext) -> list[Trajectory]:
        return read_records(ctx.trajectories, Trajectory)

    def item_id(self, item: Trajectory) -> str:
        return item.question_id

    def out_path(self, ctx: RunContext) -> Path:
        return ctx.samples

    def run_items(self, ctx: RunContext, items: list[Trajectory], out: Path, rejected: Path) -> dict[str, Any]:
        from longtracerl.synth.assembly import Assembler
        from longtracerl.synth.distractors import distractor_set, fill_provider

        questions = {q.question_id: q for q in read_records(ctx.questions, Question)}
        t0 = time.perf_counter()
        samples = JsonlAppender(out, "question_id")
        rej = JsonlAppender(rejected, "item_id")
        done_rej = {i for i in rej.seen}
        todo = [t for t in items if t.question_id not in samples.seen and t.question_id not in done_rej]
        asm = ctx.assembler(Assembler)
        tokenized_before = asm.tokenized_docs
        d = ctx.cfg.distractors
        fill = fill_provider(ctx.docstore, n=ctx.cfg.assembly.fill_docs, seed=ctx.cfg.seed,
                             remove_answer_docs=d.remove_answer_docs)
        strategy = d.strategy
        stats: dict[str, Any] = {"skipped": len(items) - len(todo), "samples": 0, "rejected": 0, "reasons": {}}
        bar: Any = None
        if ctx.progress and todo:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            bar = Progress(TextColumn("[bold]assembly[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            bar.start()
            task = bar.add_task("assembly", total=len(todo))
        # test-only throttle, so kill -9 tests can land mid-stage deterministically
        delay = float(os.environ.get("LONGTRACERL_TEST_ASSEMBLY_DELAY", "0") or 0)
        try:
            for traj in todo:
                if delay:
                    time.sleep(delay)
                q = questions.get(traj.question_id)
                res: Sample | Rejection
                if q is None:
                    res = Rejection(item_id=traj.question_id, stage="assembly", reason="question_missing",
                                    detail=f"{traj.question_id} not in {ctx.questions.name}")
                elif isinstance(gold := asm.assemble(q, [], seed=ctx.cfg.seed, strategy=strategy), Rejection):
                    res = gold  # gold pages missing or over L alone: rejected by name before choosing distractors
                else:
                    ds = distractor_set(strategy, q, traj, docstore=ctx.docstore, search=ctx.search,
                                        seed=ctx.cfg.seed, remove_answer_docs=d.remove_answer_docs, n=d.one_shot_n)
                    res = asm.assemble(q, [(c.doc_id, c.tier) for c in ds.candidates], seed=ctx.cfg.seed,
                                       strategy=strategy, fill_ids=fill,
                                       details={"removed": {k: len(v) for k, v in sorted(ds.removed.items())}})
                    if isinstance(res, Sample):
                        note_no_room(res, [(c.doc_id, c.tier) for c in ds.candidates])
                if isinstance(res, Sample):
                    samples.write(res)
                    stats["samples"] += 1
                else:
                    rej.write(res)
                    stats["rejected"] += 1
                    stats["reasons"][res.reason] = stats["reasons"].get(res.reason, 0) + 1
                if bar is not None:
                    bar.advance(task)
        finally:
            samples.close()
            rej.close()
            if bar is not None:
                bar.stop()
        stats.update(tokenized_docs=asm.tokenized_docs - tokenized_before, seconds=time.perf_counter() - t0)
        return stats


def note_no_room(sample: Sample, candidates: list[tuple[str, str]]) -> None:
    """Name the distractors left out because L was full: ``details["no_room"]`` counts them per tier (a
    shorter L keeps fewer of the same candidates; missing documents are listed apart, ``skipped_missing``)."""
    placed = {c.doc_id for c in sample.docs}
    missing = set(sample.details.get("skipped_missing", []))
    left: dict[str, int] = {}
    for doc_id, tier in candidates:
        if doc_id not in placed and doc_id not in missing:
            left[tier] = left.get(tier, 0) + 1
    if left:
        sample.details["no_room"] = dict(sorted(left.items()))


# ---------------------------------------------------------------------------- export


class ExportStage(Stage):
    name = "export"

    def run(self, ctx: RunContext) -> dict[str, Any]:
        """Streams samples.jsonl into the writers (twice with a held-out split: ids first), never all at once."""
        from longtracerl.pipeline.export import export_stream

        groups: dict[str, str] = {}
        if ctx.cfg.export.test_fraction > 0:  # held-out split by chain: question -> chain (ids only)
            groups = {str(q["question_id"]): str(q["chain_id"]) for _, q in iter_jsonl(ctx.questions)}

        def samples() -> Iterator[Sample]:
            return iter_records(ctx.samples, Sample)

        def question_ids() -> Iterator[str]:
            return (str(o["question_id"]) for _, o in iter_jsonl(ctx.samples)) if ctx.samples.exists() else iter(())

        res = export_stream(samples, ctx.dir / "export", ctx.cfg.export.formats,
                            test_fraction=ctx.cfg.export.test_fraction, groups=groups, seed=ctx.cfg.seed,
                            question_ids=question_ids)
        counts = res.pop("counts")
        return {"samples": counts["train"] + counts["test"], "paths": res}


class ReportStage(Stage):
    name = "report"

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from longtracerl.pipeline.report import write_report

        return write_report(ctx)


STAGES: list[Stage] = [WalkStage(), QuestionStage(), AgentStage(), AssemblyStage(), ExportStage(), ReportStage()]
