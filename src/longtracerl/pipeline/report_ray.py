"""The report's strategy comparison as Ray tasks: the rows are a per-item stage over the trajectories, so
``--executor ray`` distributes them like any other stage; the rest of the report is cheap and runs here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from longtracerl.io import JsonlAppender, iter_lines, read_records
from longtracerl.pipeline.context import RunContext
from longtracerl.pipeline.stages import ItemStage
from longtracerl.pipeline.strategies import Mentions, strategy_assembler, strategy_row
from longtracerl.records import Question, Trajectory


class StrategyRowsStage(ItemStage):
    """The comparison as a per-item stage (one row per trajectory), so an executor can distribute it."""

    name = "strategies"
    out_key = "question_id"
    item_model = Trajectory
    input_file, input_key = "trajectories.jsonl", "question_id"
    deps = ("questions.jsonl", "question_id", "question_id")

    def out_path(self, ctx: RunContext) -> Path:
        return ctx.dir / "parts" / "strategies.jsonl"

    def run_items(self, ctx: RunContext, items: list[Any], out: Path, rejected: Path) -> dict[str, Any]:
        questions = {q.question_id: q for q in read_records(ctx.questions, Question)}
        asm, mentions = strategy_assembler(ctx), Mentions(ctx.docstore)
        with JsonlAppender(out, "question_id") as w:
            for t in items:
                q = questions.get(t.question_id)
                if q is not None:
                    w.write({"question_id": t.question_id, "row": strategy_row(ctx, asm, q, t, mentions)})
        return {"rows": len(items)}


def run_report_ray(ctx: RunContext) -> dict[str, Any]:
    """The report with its strategy comparison computed by Ray tasks (the rest is cheap and runs here)."""
    from longtracerl.pipeline.executors import run_ray
    from longtracerl.pipeline.report import write_report

    rows_stage = StrategyRowsStage()
    info: dict[str, Any] = {}
    rows = None
    if ctx.cfg.distractors.compare_all and ctx.trajectories.exists():
        info = run_ray(ctx, rows_stage)
        rows = (json.loads(x)["row"] for x in iter_lines(rows_stage.out_path(ctx)))
    out = write_report(ctx, strategy_rows=rows)
    rows_stage.out_path(ctx).unlink(missing_ok=True)
    return {**out, "strategies": info}
