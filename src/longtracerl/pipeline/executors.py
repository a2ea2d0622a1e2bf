"""Executors of per-item stages: in process (default) or as Ray tasks over shards.

Ray: the items not yet done are cut into contiguous shards; each shard is one Ray task that rebuilds the
run context from the config and runs the stage's ``run_items`` into its own part files (themselves
resumable). The parts are then merged into the stage file (duplicates dropped by id) and put in canonical
order, so the output is byte-identical to the local executor's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from longtracerl.io import JsonlAppender, iter_jsonl
from longtracerl.pipeline.context import RunContext
from longtracerl.pipeline.stages import ItemStage


def _done_ids(ctx: RunContext, stage: ItemStage) -> set[str]:
    done: set[str] = set()
    out = stage.out_path(ctx)
    if out.exists():
        done |= {str(o.get(stage.out_key)) for _, o in iter_jsonl(out)}
    if ctx.rejected.exists():
        done |= {str(o.get("item_id")) for _, o in iter_jsonl(ctx.rejected) if o.get("stage") == stage.name}
    return done


def _shard_task(cfg_json: str, stage_name: str, items: list[dict[str, Any]], out: str, rej: str) -> dict[str, Any]:
    from longtracerl.config import BuildConfig
    from longtracerl.pipeline.stages import STAGES

    cfg = BuildConfig.model_validate_json(cfg_json)
    ctx = RunContext(cfg, progress=False)
    stage = next(s for s in STAGES if s.name == stage_name)
    assert isinstance(stage, ItemStage)
    objs = [stage.item_model.model_validate(i) for i in items]
    return stage.run_items(ctx, objs, Path(out), Path(rej))


def run_ray(ctx: RunContext, stage: ItemStage, n_shards: int | None = None) -> dict[str, Any]:
    """Run ``stage`` as Ray tasks over shards, then merge the part files in canonical order."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False,
                 configure_logging=False)
    n = max(1, n_shards or ctx.cfg.ray_shards)
    done = _done_ids(ctx, stage)
    items = [i for i in stage.items(ctx) if stage.out_id(i) not in done]
    parts_dir = ctx.dir / "parts" / stage.name
    parts_dir.mkdir(parents=True, exist_ok=True)
    shards = [items[k * len(items) // n:(k + 1) * len(items) // n] for k in range(n)]
    task = ray.remote(_shard_task)
    refs, parts = [], []
    for k, shard in enumerate(shards):
        out, rej = parts_dir / f"out-{k:03d}.jsonl", parts_dir / f"rejected-{k:03d}.jsonl"
        parts.append((out, rej))
        if shard:
            refs.append(task.remote(ctx.cfg.model_dump_json(), stage.name,
                                    [i.model_dump(mode="json") for i in shard], str(out), str(rej)))
    results = ray.get(refs)
    _merge(ctx, stage, parts)
    stage.finalize(ctx)
    for p in parts_dir.glob("*.jsonl"):
        p.unlink()
    merged: dict[str, Any] = {"executor": "ray", "shards": len(refs), "items": len(items)}
    for r in results:
        for k, v in r.items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                merged[k] = merged.get(k, 0) + v
    return merged


def _merge(ctx: RunContext, stage: ItemStage, parts: list[tuple[Path, Path]]) -> None:
    with JsonlAppender(stage.out_path(ctx), stage.out_key) as out, JsonlAppender(ctx.rejected, "item_id") as rej:
        for o_path, r_path in parts:
            if o_path.exists():
                for _, o in iter_jsonl(o_path):
                    out.write(o)
            if r_path.exists():
                for _, o in iter_jsonl(r_path):
                    rej.write(o)
