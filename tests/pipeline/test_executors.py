"""Pieces of the Ray executor that need no cluster: streaming rewrite, batching with dependencies, stats."""

from __future__ import annotations

import json
import random
from pathlib import Path

from longtracerl.io import JsonlAppender, rewrite_in_order
from longtracerl.pipeline.executors import OffsetIndex, add_stats, rewrite_in_order_streaming


def test_streaming_rewrite_gives_the_bytes_of_the_in_memory_rewrite(tmp_path: Path) -> None:
    rows = [{"id": f"x{i:03d}", "text": "é" * (i % 7), "v": i / 3} for i in range(200)]
    random.Random(0).shuffle(rows)
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for p in (a, b):
        with JsonlAppender(p, "id") as w:
            w.write_many(rows)
            w.write({"id": "stray", "v": 0})  # an id not in the order keeps its place at the end
        with p.open("ab") as f:
            f.write(b'{"id":"torn","v":')  # a killed writer's torn last line
    order = [f"x{i:03d}" for i in range(200)]
    from longtracerl.io import repair_tail

    repair_tail(a)
    rewrite_in_order(a, "id", order)
    rewrite_in_order_streaming(b, "id", iter(order))
    assert a.read_bytes() == b.read_bytes()
    assert json.loads(b.read_bytes().splitlines()[0])["id"] == "x000"


def test_offset_index_reads_records_back(tmp_path: Path) -> None:
    p = tmp_path / "q.jsonl"
    with JsonlAppender(p, "question_id") as w:
        for i in range(50):
            w.write({"question_id": f"q{i}", "body": "x" * i})
    idx = OffsetIndex(p, "question_id")
    try:
        assert json.loads(idx.get("q37") or b"")["body"] == "x" * 37
        assert idx.get("nope") is None
    finally:
        idx.close()


def test_task_stats_add_up_and_endpoint_peaks_take_the_max() -> None:
    total: dict[str, object] = {}
    add_stats(total, {"samples": 2, "reasons": {"too_long": 1}, "usage": {"calls": 3},
                      "endpoints": {"http://a": {"requests": 5, "max_in_flight": 3, "errors": {"http 500": 1}}}})
    add_stats(total, {"samples": 1, "reasons": {"too_long": 2, "x": 1}, "usage": {"calls": 1}, "flag": True,
                      "endpoints": {"http://a": {"requests": 1, "max_in_flight": 2, "errors": {"http 500": 2}}}})
    assert total == {"samples": 3, "reasons": {"too_long": 3, "x": 1}, "usage": {"calls": 4},
                     "endpoints": {"http://a": {"requests": 6, "max_in_flight": 3, "errors": {"http 500": 3}}}}


def test_world_through_serve_search_is_used_and_reported(tmp_path: Path) -> None:
    from longtracerl.config import BuildConfig
    from longtracerl.corpus.remote import RemoteSearch
    from longtracerl.pipeline.context import RunContext

    cfg = BuildConfig.load(None, ["world.kind=custom", "world.docstore=ds", "world.index=ix", "world.graph=g",
                                  "world.search_url=http://search:8400"], {"out": str(tmp_path)})
    ctx = RunContext(cfg, progress=False)
    assert isinstance(ctx.search, RemoteSearch) and ctx.search.base_url == "http://search:8400"
    access = ctx.world_access()
    assert access["search"] == "serve-search at http://search:8400" and access["docstore"] == "path ds"
    # reaching services differently is not another build: a resume with other endpoints is accepted
    ctx.check_config()
    moved = cfg.model_copy(update={"world": cfg.world.model_copy(update={"search_url": "http://other:8400"}),
                                   "llm": cfg.llm.model_copy(update={"base_url": ["http://a/v1", "http://b/v1"]})})
    RunContext(moved, progress=False).check_config()


def test_executor_shorthand_and_ray_settings() -> None:
    import pytest

    from longtracerl.config import BuildConfig

    a = BuildConfig.model_validate({"executor": "ray"})
    assert a.executor.kind == "ray" and a.executor.ray.address is None
    b = BuildConfig.load(None, ["executor.ray.address=auto", "executor.ray.batch_size=4"], {"executor.kind": "ray"})
    assert b.executor.ray.address == "auto" and b.executor.ray.batch_size == 4
    with pytest.raises(ValueError, match="adress"):
        BuildConfig.load(None, ["executor.ray.adress=x"])


def test_plan_shares_the_per_endpoint_cap_among_tasks_in_flight(tmp_path: Path) -> None:
    from longtracerl.config import BuildConfig
    from longtracerl.pipeline.context import RunContext
    from longtracerl.pipeline.executors import plan

    cfg = BuildConfig.load(None, ["llm.max_concurrency=64", "executor.ray.batch_size=10"],
                           {"out": str(tmp_path), "llm.kind": "openai", "llm.base_url": ["http://a/v1", "http://b/v1"]})
    ctx = RunContext(cfg, progress=False)
    batch, in_flight, cap = plan(ctx, 1000, cluster_cpus=8)
    assert (batch, in_flight) == (10, 16) and cap == 4  # 16 tasks x 4 = 64 requests per endpoint at most
    batch, in_flight, cap = plan(ctx, 6, cluster_cpus=8)  # few items: ray_shards (2) tasks, each half the cap
    assert (batch, cap) == (3, 32)


def test_task_results_through_a_url_round_trip_and_are_deleted() -> None:
    """executor.ray.output_url: a task's records go to the URL (fsspec; memory:// here, in one process) and only
    their URLs come back; the driver reads them and deletes them once they are in the stage file."""
    import uuid

    from fsspec.core import url_to_fs

    from longtracerl.pipeline.task_urls import drop_urls, put_result, remove_prefix, take_result

    prefix = f"memory://lt-{uuid.uuid4().hex}/run-x/assembly"
    fs, root = url_to_fs(prefix)
    res = put_result({"out": b'{"question_id":"q1"}\n', "rejected": b"", "stats": {"samples": 1}}, prefix)
    assert res["out"] == b"" and res["out_url"].startswith(f"memory://{root}/")  # nothing heavy left in the result
    assert len(fs.ls(root)) == 2
    back, urls = take_result(res)
    assert back["out"] == b'{"question_id":"q1"}\n' and back["rejected"] == b"" and len(urls) == 2
    drop_urls(urls)
    assert fs.find(root) == []
    put_result({"out": b"x\n", "rejected": b"", "stats": {}}, prefix)  # an orphan (its driver was killed)
    remove_prefix(prefix)
    assert not fs.exists(root)
    same = {"out": b"a\n", "rejected": b"", "stats": {}}
    assert put_result(dict(same), None) == same and take_result(dict(same)) == (same, [])
