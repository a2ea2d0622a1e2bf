"""The Ray executor: every stage as Ray tasks over batches, with no shared disk between driver and workers.

The driver streams the items not yet done (a stage file is read line by line, never loaded whole) into
batches of ``executor.ray.batch_size`` and keeps at most ``max_in_flight`` tasks submitted (backpressure:
driver memory and the object store stay bounded whatever the number of items). A task runs on any node: it
rebuilds the run context from the config (opened once per worker process, world data read from paths every
node can read or from ``serve-search``), writes the stage's output into a scratch directory on its own node,
and returns the records through Ray's object store. Only the driver writes the run directory: each result is
appended as it arrives, so a killed driver loses only the batches in flight and a rerun recomputes nothing
it wrote. A task whose worker dies is rerun by Ray (``max_retries``); results are keyed by item id, so
nothing is duplicated. At the end the stage file is rewritten in canonical order by streaming (an index of
byte offsets, not the records), which makes it byte-identical to the local executor's.

Records a stage needs besides its items (the chain of a question for the chain-guided agent, the question
of a trajectory for assembly) travel with the batch, looked up through a byte-offset index of their file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from longtracerl.io import JsonlAppender, iter_jsonl, repair_tail
from longtracerl.io.offsets import OffsetIndex, iter_lines, key_of
from longtracerl.pipeline.context import RunContext
from longtracerl.pipeline.stages import STAGES, ItemStage, Stage, WalkStage, canonical_rejections
from longtracerl.pipeline.task_urls import drop_urls, output_prefix, put_result, remove_prefix, take_result

# ---------------------------------------------------------------------------- streaming file helpers


def stage_input(stage: ItemStage) -> tuple[str, str]:
    """(input file name in the run dir, id key of its records) of a per-item stage, as the stage declares."""
    return stage.input_file, stage.input_key


def _key_of(line: bytes, key: str) -> str:
    return key_of(line, key)


def rewrite_in_order_streaming(path: Path, key: str, order: Iterator[str]) -> None:
    """``io.rewrite_in_order`` without loading the file: same bytes, memory O(ids)."""
    if not path.exists():
        return
    repair_tail(path)
    idx = OffsetIndex(path, key)
    tmp = path.with_suffix(path.suffix + ".tmp")
    written: set[str] = set()
    try:
        with tmp.open("wb") as out:
            for i in order:
                line = idx.get(i)
                if line is not None and i not in written:
                    out.write(line)
                    written.add(i)
            for i in sorted(set(idx.pos) - written, key=lambda k: idx.pos[k][0]):  # unknown ids keep file order
                out.write(idx.get(i) or b"")
    finally:
        idx.close()
    os.replace(tmp, path)


def _done_ids(ctx: RunContext, stage: ItemStage) -> set[str]:
    out = stage.out_path(ctx)
    done = {_key_of(x, stage.out_key) for x in iter_lines(out)}
    if ctx.rejected.exists():
        done |= {str(o.get("item_id")) for _, o in iter_jsonl(ctx.rejected) if o.get("stage") == stage.name}
    return done


def add_stats(into: dict[str, Any], add: dict[str, Any]) -> dict[str, Any]:
    """Sum numbers (recursively in dicts) of per-task stats; ``endpoints`` merge as pool counters."""
    from longtracerl.llm.pool import merge_endpoint_stats

    for k, v in add.items():
        if k == "endpoints" and isinstance(v, dict):
            merge_endpoint_stats(into.setdefault("endpoints", {}), v)
        elif isinstance(v, dict):
            add_stats(into.setdefault(k, {}), v)
        elif isinstance(v, int | float) and not isinstance(v, bool):
            into[k] = into.get(k, 0) + v
    return into


# ---------------------------------------------------------------------------- the worker side

_WORKER_CTX: dict[str, RunContext] = {}


def scratch_root() -> Path:
    """Node-local scratch of this worker (``$LONGTRACERL_RAY_SCRATCH`` or the temp dir), one per Ray node."""
    import ray

    base = os.environ.get("LONGTRACERL_RAY_SCRATCH") or os.path.join(tempfile.gettempdir(), "longtracerl-ray")
    return Path(base) / ray.get_runtime_context().get_node_id()[:12]


def worker_context(cfg_json: str, llm_cap: int | None) -> RunContext:
    """The run context of this worker process (world data and tokenizer opened once, reused by its tasks)."""
    import hashlib

    from longtracerl.config import BuildConfig

    key = hashlib.sha256(cfg_json.encode()).hexdigest()[:16]
    ctx = _WORKER_CTX.get(key)
    if ctx is None:
        cfg = BuildConfig.model_validate_json(cfg_json)
        # the Rust tokenizer's thread pool, sized (before its first use) to the CPUs a task reserves, as Ray
        # does for OpenMP: N worker processes on N cores, not N x cores threads fighting for them
        os.environ.setdefault("RAYON_NUM_THREADS", str(max(1, int(cfg.executor.ray.num_cpus))))
        cfg = cfg.model_copy(update={"out": str(scratch_root() / key)})
        ctx = _WORKER_CTX[key] = RunContext(cfg, progress=False)
        ctx.token_counts_dir = scratch_root() / "token-counts"  # shared by the worker processes of this node
    ctx.llm_cap = llm_cap
    return ctx


def _resolve_stage(ref: str) -> Stage:
    for s in STAGES:
        if s.name == ref:
            return s
    import importlib

    mod, _, qual = ref.partition(":")
    return importlib.import_module(mod).__dict__[qual]()  # type: ignore[no-any-return]


def _stage_ref(stage: Stage) -> str:
    if any(s is stage or type(s) is type(stage) for s in STAGES):
        return stage.name
    return f"{type(stage).__module__}:{type(stage).__qualname__}"


def run_batch(spec: dict[str, Any], items: bytes, deps: bytes) -> dict[str, Any]:
    """One task: ``run_items`` over a batch in a node-local scratch dir; the records come back as bytes."""
    import ray

    from longtracerl.pipeline.ray_cluster import package_fingerprint

    ctx = worker_context(spec["cfg"], spec.get("llm_cap"))
    stage = _resolve_stage(spec["stage"])
    assert isinstance(stage, ItemStage)
    task_dir = ctx.cfg.run_dir / "tasks" / uuid.uuid4().hex
    task_dir.mkdir(parents=True)
    ctx.dir = task_dir  # stage files of this task (its items' dependencies, its outputs); caches stay in cache_dir
    try:
        if spec.get("deps_file") and deps:
            (task_dir / spec["deps_file"]).write_bytes(deps)
        objs = [stage.item_model.model_validate_json(x) for x in items.splitlines() if x.strip()]
        fail = os.environ.get("LONGTRACERL_TEST_KILL_WORKER_ONCE")  # fault injection for the tests
        if fail and not os.path.exists(fail):
            Path(fail).write_text(str(os.getpid()))
            os._exit(1)
        out, rej = task_dir / "out.jsonl", task_dir / "rejected.jsonl"
        cpu0 = time.process_time()
        stats = dict(stage.run_items(ctx, objs, out, rej))
        stats["worker_cpu_seconds"] = time.process_time() - cpu0  # the work itself, whatever else loads the node
        stats["endpoints"] = ctx.pop_endpoint_stats()
        res = {"out": out.read_bytes() if out.exists() else b"", "rejected": rej.read_bytes() if rej.exists() else b"",
               "stats": stats, "node": ray.get_runtime_context().get_node_id(), "pid": os.getpid(),
               "fingerprint": package_fingerprint()}
        return put_result(res, spec.get("output_url"))
    finally:
        shutil.rmtree(task_dir, ignore_errors=True)


# ---------------------------------------------------------------------------- the driver side


def _batches(ctx: RunContext, stage: ItemStage, done: set[str], size: int) -> Iterator[tuple[bytes, bytes]]:
    """(items, their dependencies) as JSONL bytes, ``size`` items at a time, streamed from the input file."""
    fname, key = stage_input(stage)
    dep = stage.deps
    index = OffsetIndex(ctx.dir / dep[0], dep[1]) if dep else None
    try:
        buf: list[bytes] = []
        for line in iter_lines(ctx.dir / fname):
            if _key_of(line, key) in done:
                continue
            buf.append(line)
            if len(buf) >= size:
                yield b"".join(buf), _deps(index, dep, buf)
                buf = []
        if buf:
            yield b"".join(buf), _deps(index, dep, buf)
    finally:
        if index is not None:
            index.close()


def _deps(index: OffsetIndex | None, dep: tuple[str, str, str] | None, lines: list[bytes]) -> bytes:
    if index is None or dep is None:
        return b""
    out, seen = [], set()
    for line in lines:
        ref = str(json.loads(line).get(dep[2]))
        if ref not in seen:
            seen.add(ref)
            got = index.get(ref)
            if got is not None:
                out.append(got)
    return b"".join(out)


def plan(ctx: RunContext, n_todo: int, cluster_cpus: float) -> tuple[int, int, int | None]:
    """(batch size, tasks in flight, per-task share of the per-endpoint LLM cap)."""
    rs = ctx.cfg.executor.ray
    batch = max(1, min(rs.batch_size, -(-n_todo // max(1, ctx.cfg.ray_shards))))
    n_batches = max(1, -(-n_todo // batch))
    slots = max(1, int(cluster_cpus / rs.num_cpus))
    in_flight = rs.max_in_flight or max(2, 2 * slots)
    llm_cap = None
    if ctx.cfg.llm.kind == "openai":  # the per-endpoint cap holds over the whole cluster
        llm_cap = max(1, ctx.cfg.llm.max_concurrency // min(n_batches, in_flight))
    return batch, in_flight, llm_cap


def submit_stream(
    jobs: Iterator[tuple[Any, ...]], submit: Callable[..., Any], on_result: Callable[[Any], None], in_flight: int
) -> int:
    """Submit ``jobs`` keeping at most ``in_flight`` pending; hand each result to ``on_result`` as it lands."""
    import ray

    pending: list[Any] = []
    n = 0
    jobs = iter(jobs)
    exhausted = False
    while pending or not exhausted:
        while not exhausted and len(pending) < in_flight:
            job = next(jobs, None)
            if job is None:
                exhausted = True
                break
            pending.append(submit(*job))
        if not pending:
            break
        ready, pending = ray.wait(pending, num_returns=1)
        on_result(ray.get(ready[0]))
        n += 1
    return n


def task_options(ctx: RunContext) -> dict[str, Any]:
    """Resources, retries on worker death, and SPREAD so batches go to every node (the code ships at ray.init)."""
    rs = ctx.cfg.executor.ray
    return {"num_cpus": rs.num_cpus, "max_retries": rs.max_retries, "scheduling_strategy": "SPREAD"}


def run_ray(ctx: RunContext, stage: ItemStage) -> dict[str, Any]:
    """Run a per-item stage as Ray tasks over batches (see the module docstring); returns merged stats."""
    import ray

    from longtracerl.pipeline.ray_cluster import connect, package_fingerprint

    info = connect(ctx.cfg.executor.ray)
    done = _done_ids(ctx, stage)
    fname, key = stage_input(stage)
    n_todo = sum(1 for x in iter_lines(ctx.dir / fname) if _key_of(x, key) not in done)
    batch, in_flight, llm_cap = plan(ctx, n_todo, info["cpus"])
    prefix = output_prefix(ctx, stage.name)
    spec = {"cfg": ctx.cfg.model_dump_json(), "stage": _stage_ref(stage), "llm_cap": llm_cap,
            "deps_file": stage.deps[0] if stage.deps else None, "output_url": prefix}
    task = ray.remote(run_batch).options(**task_options(ctx))
    merged: dict[str, Any] = {"executor": "ray", "items": n_todo, "batch_size": batch, "tasks": 0, "nodes": [],
                              "cluster": info}
    nodes: set[str] = set()
    fingerprint = package_fingerprint()
    bar = _bar(ctx, stage.name, n_todo)
    with JsonlAppender(stage.out_path(ctx), stage.out_key) as out, JsonlAppender(ctx.rejected, "item_id") as rej:
        def on_result(res: dict[str, Any]) -> None:
            if res["fingerprint"] != fingerprint:
                raise RuntimeError(f"a Ray worker runs another longtracerl ({res['fingerprint']} != {fingerprint}); "
                                   "keep executor.ray.ship_code on or install the same version on every node")
            res, urls = take_result(res)
            for line in res["out"].splitlines():
                if line.strip():
                    out.write(json.loads(line))
            for line in res["rejected"].splitlines():
                if line.strip():
                    rej.write(json.loads(line))
            drop_urls(urls)  # in the stage file now: the copy at the URL is not needed any more
            merged["via_url"] = merged.get("via_url", 0) + bool(urls)
            add_stats(merged, res["stats"])
            merged["tasks"] += 1
            nodes.add(res["node"])
            if bar is not None:
                bar[0].advance(bar[1], len(res["out"].splitlines()) + len(res["rejected"].splitlines()))

        try:
            submit_stream(((spec, items, deps) for items, deps in _batches(ctx, stage, done, batch)),
                          task.remote, on_result, in_flight)
        finally:
            if bar is not None:
                bar[0].stop()
    remove_prefix(prefix)
    merged.update(finalize(ctx, stage))
    merged["nodes"] = len(nodes)
    merged["shards"] = merged["tasks"]
    return merged


def finalize(ctx: RunContext, stage: ItemStage) -> dict[str, Any]:
    """The stage file in its input's order (streamed), the stage's whole-file step, rejections in canonical
    order. Returns the whole-file step's stats."""
    fname, key = stage_input(stage)
    order = (_key_of(x, key) for x in iter_lines(ctx.dir / fname))
    rewrite_in_order_streaming(stage.out_path(ctx), stage.out_key, order)
    extra = stage.after_order(ctx)
    canonical_rejections(ctx.rejected)
    return extra


def _bar(ctx: RunContext, name: str, total: int) -> tuple[Any, Any] | None:
    if not ctx.progress or not total:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn(f"[bold]{name}[/] (ray)"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    bar.start()
    return bar, bar.add_task(name, total=total)


# ---------------------------------------------------------------------------- walks


def walk_batch(spec: dict[str, Any], start: int, stop: int, skip: list[str]) -> dict[str, Any]:
    """One task: walks ``start..stop`` (their ids fix their randomness), records back as bytes."""
    import asyncio

    import ray

    from longtracerl.graph.ranges import awalk_range, walk_range
    from longtracerl.graph.simple_choosers import CHOOSERS
    from longtracerl.io import dumps
    from longtracerl.pipeline.ray_cluster import package_fingerprint
    from longtracerl.records import Chain

    ctx = worker_context(spec["cfg"], spec.get("llm_cap"))
    wc = WalkStage().walk_config(ctx)
    if ctx.cfg.walk.chooser == "llm":
        from longtracerl.llm.walk_chooser import LLMWalkChooser

        items, res = asyncio.run(awalk_range(ctx.graph, wc, LLMWalkChooser(ctx.llm("walk")), ctx.docstore,
                                             start=start, stop=stop, skip_ids=skip,
                                             concurrency=ctx.cfg.walk.concurrency))
    else:
        items, res = walk_range(ctx.graph, wc, CHOOSERS[ctx.cfg.walk.chooser](), ctx.docstore, start=start,
                                stop=stop, skip_ids=skip)
    chains = b"".join((dumps(i) + "\n").encode() for i in items if isinstance(i, Chain))
    rej = b"".join((dumps(i) + "\n").encode() for i in items if not isinstance(i, Chain))
    stats = {"written": res.n_chains, "failed": sum(res.failures.values()), "failures": dict(res.failures),
             "moves": res.n_moves, "endpoints": ctx.pop_endpoint_stats()}
    return put_result({"out": chains, "rejected": rej, "stats": stats, "node": ray.get_runtime_context().get_node_id(),
                       "pid": os.getpid(), "fingerprint": package_fingerprint()}, spec.get("output_url"))


def run_walk_ray(ctx: RunContext) -> dict[str, Any]:
    """The walk stage as Ray tasks over ranges of walk ids; the driver writes chains as they come back."""
    import ray

    from longtracerl.graph.walk import chain_id
    from longtracerl.pipeline.ray_cluster import connect, package_fingerprint

    info = connect(ctx.cfg.executor.ray)
    seed, n = ctx.cfg.seed, ctx.cfg.walk.n_chains
    done = {_key_of(x, "chain_id") for x in iter_lines(ctx.chains)}
    if ctx.rejected.exists():
        done |= {str(o.get("item_id")) for _, o in iter_jsonl(ctx.rejected) if o.get("stage") == "walk"}
    todo = [i for i in range(n) if chain_id(seed, i) not in done]
    batch, in_flight, llm_cap = plan(ctx, len(todo), info["cpus"])
    if ctx.cfg.walk.chooser != "llm":  # the vectorised engine walks thousands per millisecond: fewer, larger tasks
        batch = max(batch, -(-len(todo) // max(ctx.cfg.ray_shards, int(info["cpus"]) or 1)))
    prefix = output_prefix(ctx, "walk")
    spec = {"cfg": ctx.cfg.model_dump_json(), "llm_cap": llm_cap, "output_url": prefix}
    task = ray.remote(walk_batch).options(**task_options(ctx))
    merged: dict[str, Any] = {"executor": "ray", "items": len(todo), "batch_size": batch, "tasks": 0, "cluster": info}
    fingerprint = package_fingerprint()
    nodes: set[str] = set()

    def jobs() -> Iterator[tuple[Any, ...]]:
        for k in range(0, len(todo), batch):
            ids = todo[k:k + batch]
            lo, hi = ids[0], ids[-1] + 1
            skip = [chain_id(seed, i) for i in range(lo, hi) if chain_id(seed, i) in done]
            yield spec, lo, hi, skip

    with JsonlAppender(ctx.chains, "chain_id") as out, JsonlAppender(ctx.rejected, "item_id") as rej:
        def on_result(res: dict[str, Any]) -> None:
            if res["fingerprint"] != fingerprint:
                raise RuntimeError(f"a Ray worker runs another longtracerl ({res['fingerprint']} != {fingerprint})")
            res, urls = take_result(res)
            for line in res["out"].splitlines():
                out.write(json.loads(line))
            for line in res["rejected"].splitlines():
                rej.write(json.loads(line))
            drop_urls(urls)
            merged["via_url"] = merged.get("via_url", 0) + bool(urls)
            add_stats(merged, res["stats"])
            merged["tasks"] += 1
            nodes.add(res["node"])

        submit_stream(jobs(), task.remote, on_result, in_flight)
    remove_prefix(prefix)
    rewrite_in_order_streaming(ctx.chains, "chain_id", (chain_id(seed, i) for i in range(n)))
    canonical_rejections(ctx.rejected)
    merged["variety"] = WalkStage().after_walks(ctx)  # over the whole walk file, in the driver: as a local build
    merged["nodes"] = len(nodes)
    return merged
