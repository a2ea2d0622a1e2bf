"""``run_build``: the stages in order over one run directory, skipping the ones the manifest marks done."""

from __future__ import annotations

import time
from typing import Any

from longtracerl.config import BuildConfig
from longtracerl.llm.tokenizers import load_tokenizer
from longtracerl.pipeline.context import RunContext
from longtracerl.pipeline.stages import STAGES, ItemStage, Stage


def check_build(cfg: BuildConfig) -> None:
    """Fail before anything is written: a judge prompt file that is not a valid template (``ValueError``), or a
    preset that lacks what it needs (``PresetError``, naming the flag to add)."""
    from longtracerl.presets import check_build_requirements
    from longtracerl.reward.judge import load_judge_template

    if cfg.outcome.scorer == "judge" and cfg.outcome.judge_prompt_file:
        load_judge_template(cfg.outcome.judge_prompt_file)
    check_build_requirements(cfg)


def run_build(cfg: BuildConfig, *, progress: bool = True, stages: list[str] | None = None,
              log: Any = None) -> RunContext:
    """Run (or resume) the build; returns the context (``ctx.dir`` is the run directory).

    A preset that lacks what it needs (an LLM, a tokenizer) raises ``PresetError`` before anything is written.
    """
    check_build(cfg)
    ctx = RunContext(cfg, progress=progress)
    ctx.check_config()
    return run_stages(ctx, stages=stages, log=log)


def run_stages(ctx: RunContext, *, stages: list[str] | None = None, log: Any = None) -> RunContext:
    """The stages (all, or the named ones) in order over ``ctx``'s run directory, skipping finished ones."""
    if not ctx.is_done("assembly") and (stages is None or "assembly" in stages) and "tokenizer" not in ctx.__dict__:
        # a tokenizer that cannot be loaded must fail now, not after the LLM stages have been paid for
        ctx.__dict__["tokenizer"] = load_tokenizer(ctx.cfg.assembly.tokenizer)
    for stage in STAGES:
        if stages is not None and stage.name not in stages:
            continue
        if ctx.is_done(stage.name):
            if log is not None:
                log(f"[dim]{stage.name}: done earlier, skipped[/]")
            continue
        t0 = time.perf_counter()
        if ctx.cfg.executor.kind == "ray" and (isinstance(stage, ItemStage) or stage.name in ("walk", "report")):
            info = _run_distributed(ctx, stage)
        else:
            info = stage.run(ctx)
        info = dict(info)
        endpoints = ctx.pop_endpoint_stats()
        if endpoints:
            info["endpoints"] = endpoints
        info["seconds"] = round(time.perf_counter() - t0, 3)
        ctx.mark_done(stage.name, info)
        if log is not None:
            log(f"[green]{stage.name}[/] done in {info['seconds']:.1f}s")
    return ctx


def _run_distributed(ctx: RunContext, stage: Stage) -> dict[str, Any]:
    """Every stage that does real work runs as Ray tasks (export is a single sequential write)."""
    from longtracerl.pipeline import executors

    if isinstance(stage, ItemStage):
        return executors.run_ray(ctx, stage)
    if stage.name == "walk":
        return executors.run_walk_ray(ctx)
    from longtracerl.pipeline.report_ray import run_report_ray

    return run_report_ray(ctx)
