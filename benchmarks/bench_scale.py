"""Scale-out of ``longtracerl build`` (issue 11): prints the figures the issue asks for.

1. cluster: a 3-node Ray cluster simulated with ``ray.cluster_utils.Cluster`` (1 CPU each, each node its own
   scratch dir): the build's stage files are byte-identical to the local executor's; the driver is killed
   (SIGKILL) mid-assembly and rerun: identical again.
2. assembly: throughput of the assembly stage (tokenization-bound) with 1 vs 2 Ray worker processes.
3. pool: 3 stub endpoints (one fails half its requests, one is 5x slower): all requests complete, the slow
   one gets proportionally fewer, total time vs the ideal for the healthy capacity.
4. memory: driver peak RSS while the Ray executor runs 10,000 and 100,000 stub items (flat = bounded).
5. export-memory: peak RSS of export and of the report over 10,000 and 100,000 stub samples (each phase in a
   fresh process).

The machine may be shared: the load average is printed with each part.
Run: python benchmarks/bench_scale.py [--parts cluster,assembly,pool,memory,export-memory] [--chains 8] [--tput-chains 150]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FILES = ["chains.jsonl", "questions.jsonl", "rejected.jsonl", "trajectories.jsonl", "samples.jsonl",
         "export/slime.jsonl", "export/verl/train.parquet", "report/stats.json"]


def load() -> str:
    a, b, c = os.getloadavg()
    return f"load average {a:.2f} {b:.2f} {c:.2f} on {os.cpu_count()} CPUs"


def _cli(out: Path, name: str, chains: int, *args: str) -> list[str]:
    return [sys.executable, "-m", "longtracerl.cli", "build", "--out", str(out), "--name", name, "--n-chains",
            str(chains), "--set", "walk.hops=2", "--max-tokens", "40000", "--quiet", *args]


def _lines(p: Path) -> int:
    return p.read_bytes().count(b"\n") if p.exists() else 0


# ---------------------------------------------------------------------------- 1. cluster


def part_cluster(tmp: Path, chains: int) -> None:
    from ray.cluster_utils import Cluster

    env = dict(os.environ)
    t0 = time.perf_counter()
    r = subprocess.run(_cli(tmp, "local", chains), env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    t_local = time.perf_counter() - t0
    scratch = tmp / "scratch"
    os.environ["LONGTRACERL_RAY_SCRATCH"] = str(scratch)  # inherited by the nodes: a scratch dir per node
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        run = tmp / "ray"
        args = ["--ray-address", cluster.address, "--set", "executor.ray.batch_size=1"]
        slow = ["--set", "executor.ray.runtime_env={env_vars: {LONGTRACERL_TEST_ASSEMBLY_DELAY: '1.0'}}"]
        proc = subprocess.Popen(_cli(tmp, "ray", chains, *args, *slow), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        killed_at = None
        while proc.poll() is None:
            man = run / "manifest.json"
            stages = json.loads(man.read_text())["stages"] if man.exists() else {}
            if _lines(run / "samples.jsonl") >= 2 and "assembly" not in stages:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                killed_at = _lines(run / "samples.jsonl")
                break
            time.sleep(0.05)
        t0 = time.perf_counter()
        r = subprocess.run(_cli(tmp, "ray", chains, *args), env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-2000:]
        t_rerun = time.perf_counter() - t0
        same = {f: (tmp / "local" / f).read_bytes() == (run / f).read_bytes() for f in FILES}
        man = json.loads((run / "manifest.json").read_text())["stages"]
        nodes = {k: v["runs"][-1].get("nodes") for k, v in man.items() if "nodes" in v["runs"][-1]}
        print(f"[cluster] 3-node Ray cluster (ray.cluster_utils.Cluster, 1 CPU each), {chains} walks: "
              f"local build {t_local:.1f} s; Ray build killed (SIGKILL) mid-assembly after "
              f"{killed_at} of {_lines(run / 'samples.jsonl')} samples, rerun {t_rerun:.1f} s")
        print(f"[cluster] nodes that ran tasks, last run of each stage: {nodes}; scratch dirs (one per node): "
              f"{len([d for d in scratch.iterdir() if d.is_dir()])}")
        print(f"[cluster] byte-identical to the local executor: {all(same.values())} "
              + ", ".join(f"{k}={'yes' if v else 'NO'}" for k, v in same.items()))
        print(f"[cluster] {load()}")
    finally:
        cluster.shutdown()
        os.environ.pop("LONGTRACERL_RAY_SCRATCH", None)


# ---------------------------------------------------------------------------- 2. assembly throughput


def part_assembly(tmp: Path, chains: int, max_tokens: int, repeats: int) -> None:
    """1 vs 2 worker processes, back to back, ``repeats`` times (the machine may be shared: noisy walls).

    Both runs first warm the same 4 items (each worker process opens the world and loads the tokenizer once;
    the node's shared token counts then hold the same pages), then time every item. Besides the wall time it
    prints the work the workers did (CPU seconds, pages tokenized): equal work at 1 and 2 workers means
    nothing is duplicated or serialised, and only the cores the machine gives decide the wall-time ratio.
    """
    import statistics

    import ray

    from longtracerl.config import BuildConfig
    from longtracerl.pipeline.build import run_build
    from longtracerl.pipeline.context import RunContext
    from longtracerl.pipeline.executors import run_ray
    from longtracerl.pipeline.stages import AssemblyStage

    base = ["walk.hops=2", "distractors.compare_all=false", f"assembly.max_tokens={max_tokens}"]
    cfg = BuildConfig.load(None, base, {"out": str(tmp), "name": "tput-src", "walk.n_chains": chains})
    src = run_build(cfg, progress=False, stages=["walk", "questions", "agent"]).dir
    n = _lines(src / "trajectories.jsonl")
    ratios, work = [], []
    for rep in range(repeats):
        rates, cpu = {}, {}
        for workers in (1, 2):
            run = tmp / "tput"
            os.environ["LONGTRACERL_RAY_SCRATCH"] = str(tmp / f"scratch-{rep}-{workers}")  # fresh token counts
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False,
                     runtime_env={"py_modules": [str(Path(__import__("longtracerl").__file__).parent)]})
            c = BuildConfig.load(None, [*base, "executor.kind=ray", "executor.ray.batch_size=2",
                                        f"executor.ray.max_in_flight={2 * workers}"],
                                 {"out": str(tmp), "name": "tput", "walk.n_chains": chains})
            shutil.rmtree(run, ignore_errors=True)
            shutil.copytree(src, run)
            lines = (run / "trajectories.jsonl").read_bytes().splitlines(keepends=True)
            (run / "trajectories.jsonl").write_bytes(b"".join(lines[:4]))  # warm-up: 2 tasks, one per worker
            run_ray(RunContext(c, progress=False), AssemblyStage())
            shutil.rmtree(run)
            shutil.copytree(src, run)
            load0 = os.getloadavg()[0]
            t0, c0 = time.perf_counter(), time.process_time()
            info = run_ray(RunContext(c, progress=False), AssemblyStage())
            dt, driver_cpu = time.perf_counter() - t0, time.process_time() - c0
            rates[workers] = n / dt
            cpu[workers] = float(info.get("worker_cpu_seconds", 0.0))
            print(f"[assembly] run {rep + 1}, {workers} worker process(es): {n} trajectories -> "
                  f"{info.get('samples', 0)} samples at L={max_tokens} in {dt:.1f} s = {rates[workers]:.2f} items/s; "
                  f"work: {info.get('worker_cpu_seconds', 0):.1f} worker CPU-s, {info.get('tokenized_docs', 0)} pages "
                  f"tokenized, driver {driver_cpu:.2f} CPU-s; tasks ran {info.get('seconds', 0) / (workers * dt):.0%} "
                  f"of the time of each worker and got a CPU for {info.get('worker_cpu_seconds', 0) / max(1e-9, info.get('seconds', 0)):.0%} "
                  f"of theirs (load average {load0:.2f} before, {load()})")
            ray.shutdown()
            os.environ.pop("LONGTRACERL_RAY_SCRATCH", None)
        ratios.append(rates[2] / rates[1])
        work.append(cpu[2] / cpu[1] if cpu[1] else float("nan"))
        print(f"[assembly] run {rep + 1}: speed-up 2 vs 1 workers {ratios[-1]:.2f}x; worker CPU for the same items "
              f"at 2 vs 1 workers {work[-1]:.2f}x (1.00 = no work duplicated)")
    print(f"[assembly] speed-up 2 vs 1 workers: median {statistics.median(ratios):.2f}x over {repeats} back-to-back "
          f"pairs ({', '.join(f'{r:.2f}' for r in ratios)}) (target >= 1.6x on 2 idle cores); worker CPU 2 vs 1: "
          f"median {statistics.median(work):.2f}x")


# ---------------------------------------------------------------------------- 3. LLM pool


def part_pool(n: int, cap: int, delay: float) -> None:
    from aiohttp import web

    from longtracerl.llm.pool import make_pool
    from longtracerl.netutil import free_port

    rng = random.Random(0)

    class Ep:
        def __init__(self, name: str, delay: float, fail_share: float) -> None:
            self.name, self.delay, self.fail_share, self.port = name, delay, fail_share, free_port()
            self.url = f"http://127.0.0.1:{self.port}/v1"

        async def handle(self, request: web.Request) -> web.Response:
            await request.json()
            await asyncio.sleep(self.delay)
            if rng.random() < self.fail_share:
                return web.json_response({"error": {"message": "injected"}}, status=500)
            return web.json_response({"choices": [{"message": {"role": "assistant", "content": "ok"},
                                                   "finish_reason": "stop"}],
                                      "usage": {"prompt_tokens": 10, "completion_tokens": 2}})

    eps = [Ep("fast", delay, 0.0), Ep("flaky (fails 1/2)", delay, 0.5), Ep("slow (5x)", 5 * delay, 0.0)]
    loop = asyncio.new_event_loop()
    th = threading.Thread(target=loop.run_forever, daemon=True)
    th.start()
    runners = []
    for e in eps:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", e.handle)
        runner = web.AppRunner(app, access_log=None)
        asyncio.run_coroutine_threadsafe(runner.setup(), loop).result(10)
        asyncio.run_coroutine_threadsafe(web.TCPSite(runner, "127.0.0.1", e.port).start(), loop).result(10)
        runners.append(runner)

    async def go() -> tuple[float, dict[str, dict[str, object]]]:
        pool = make_pool([e.url for e in eps], model="stub", max_in_flight=cap, cooldown=1.0)
        sem = asyncio.Semaphore(3 * cap)

        async def one(i: int) -> None:
            async with sem:
                await pool.chat([{"role": "user", "content": str(i)}], temperature=0.7)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        dt = time.perf_counter() - t0
        await pool.aclose()
        return dt, pool.stats()

    try:
        dt, st = asyncio.run(go())
    finally:
        for r in runners:
            asyncio.run_coroutine_threadsafe(r.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        th.join(5)
        loop.close()
    healthy = cap / delay + 0.5 * cap / delay + cap / (5 * delay)  # successful answers per second
    without_flaky = cap / delay + cap / (5 * delay)
    ok = sum(int(v["ok"]) for v in st.values())  # type: ignore[call-overload]
    print(f"[pool] {n} requests, {3 * cap} in flight, cap {cap} per endpoint, base latency {delay * 1000:.0f} ms: "
          f"{ok}/{n} completed in {dt:.2f} s ({load()})")
    for e in eps:
        s = st[e.url]
        print(f"[pool]   {e.name:18s} requests {s['requests']:5d}  ok {s['ok']:5d}  failed {s['failed']:4d}  "
              f"left out {s['trips']:3d}x  peak in flight {s['max_in_flight']}")
    fast, slow = st[eps[0].url]["ok"], st[eps[2].url]["ok"]
    print(f"[pool] slow/fast answers: {int(slow) / max(1, int(fast)):.2f} (capacity ratio 0.20)")  # type: ignore[call-overload]
    print(f"[pool] ideal for the healthy capacity (fast + half of flaky + slow = {healthy:.0f}/s): {n / healthy:.2f} s "
          f"-> {dt / (n / healthy):.2f}x; without the flaky one ({without_flaky:.0f}/s): {n / without_flaky:.2f} s "
          f"-> {dt / (n / without_flaky):.2f}x (target <= 1.3x)")


# ---------------------------------------------------------------------------- 4. driver memory


def rss_child(n: int, tmp: Path) -> None:
    """In a fresh process: run ``n`` stub items through the Ray executor; print the driver's peak RSS."""
    sys.path.insert(0, str(HERE))
    from longtracerl.config import BuildConfig
    from longtracerl.pipeline.context import RunContext
    from longtracerl.pipeline.executors import run_ray
    from scale_stub import StubStage  # type: ignore[import-not-found]

    cfg = BuildConfig.load(None, ["executor.kind=ray", "executor.ray.batch_size=1000", "executor.ray.local_cpus=2",
                                  f"executor.ray.runtime_env={{py_modules: ['{HERE / 'scale_stub'}']}}"],
                           {"out": str(tmp), "name": f"rss-{n}"})
    ctx = RunContext(cfg, progress=False)
    pad = "x" * 240
    with (ctx.dir / "stub_items.jsonl").open("w") as f:
        for i in range(n):
            f.write(json.dumps({"item_id": f"item-{i:07d}", "payload": pad}) + "\n")
    from longtracerl.pipeline.ray_cluster import connect

    connect(cfg.executor.ray)  # Ray's own client memory is not the executor's: measure from here
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    info = run_ray(ctx, StubStage())
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = ctx.dir / "stub_out.jsonl"
    print(json.dumps({"n": n, "tasks": info["tasks"], "lines": _lines(out), "mb_out": out.stat().st_size / 2**20,
                      "seconds": dt, "rss_before_mb": before, "peak_rss_mb": peak}))


def part_memory(tmp: Path) -> None:
    for n in (10_000, 100_000):
        r = subprocess.run([sys.executable, __file__, "--rss-child", str(n), "--tmp", str(tmp)], capture_output=True,
                           text=True)
        if r.returncode != 0:
            print(f"[memory] {n} items: failed: {r.stderr[-1500:]}")
            continue
        d = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"[memory] {d['n']:,} stub items ({d['tasks']} tasks, {d['mb_out']:.0f} MB written, {d['lines']:,} lines) "
              f"in {d['seconds']:.1f} s: driver peak RSS {d['peak_rss_mb']:.0f} MB "
              f"(before the stage {d['rss_before_mb']:.0f} MB) ({load()})")


# ---------------------------------------------------------------------------- 5. export + report memory


def stub_config(n: int, tmp: Path) -> Any:
    from longtracerl.config import BuildConfig

    return BuildConfig.load(None, ["distractors.compare_all=false", "export.test_fraction=0.1"],
                            {"out": str(tmp), "name": f"export-{n}", "walk.n_chains": n})


def make_stub_run(n: int, tmp: Path) -> Path:
    """A finished run directory with ``n`` stub chains, questions, trajectories and samples (2 KB prompts, 20
    context docs each): what export and the report read. Doc ids are not in the store (no mention lookups)."""
    from longtracerl.io import dumps
    from longtracerl.pipeline.context import RunContext
    from longtracerl.records import Chain, ContextDoc, Hop, Question, Sample, Trajectory, WriterInfo

    ctx = RunContext(stub_config(n, tmp), progress=False)
    ctx.check_config()
    body = "lorem ipsum dolor sit amet " * 75
    tiers = ["gold", "gold", *["tier1"] * 6, *["tier2"] * 8, *["fill"] * 4]
    with ctx.chains.open("w") as fc, ctx.questions.open("w") as fq, ctx.trajectories.open("w") as ft, \
            ctx.samples.open("w") as fs:
        for i in range(n):
            cid, qid = f"c-{i:07d}", f"q-{i:07d}"
            fc.write(dumps(Chain(chain_id=cid, seed=i, hops=[Hop(entity_id=f"e{i}", title=f"T{i}"),
                                                             Hop(entity_id=f"e{i + 1}", title=f"T{i + 1}")])) + "\n")
            q = Question(question_id=qid, chain_id=cid, question=f"Which {i}?", answer=f"A{i}", gold_entities=[f"T{i}"],
                         gold_doc_ids=[f"stub-{i}", f"stub-{i + 1}"], writer=WriterInfo(backend="stub"))
            fq.write(dumps(q) + "\n")
            ft.write(dumps(Trajectory(question_id=qid, attempt=1, agent="stub")) + "\n")
            docs = [ContextDoc(doc_id=f"stub-{i}-{k}", tier=t, n_tokens=100 + k) for k, t in enumerate(tiers)]  # type: ignore[arg-type]
            fs.write(dumps(Sample(sample_id=f"s-{qid}", question_id=qid, question=q.question, label=q.answer,
                                  rubrics=[f"T{i}"], messages=[{"role": "user", "content": f"{i} {body}"}],
                                  docs=docs, n_tokens=2100 + i % 500, tokenizer="stub")) + "\n")
    for st in ("walk", "questions", "agent", "assembly"):
        ctx.mark_done(st, {"seconds": 0.0})
    return ctx.dir


def export_child(run: Path, phase: str) -> None:
    """In a fresh process: one phase (export, stats, report) over a stub run; prints its peak RSS."""
    from longtracerl.pipeline.context import RunContext
    from longtracerl.pipeline.report import collect_stats, write_report
    from longtracerl.pipeline.stages import ExportStage

    ctx = RunContext(stub_config(int(run.name.split("-")[1]), run.parent), progress=False)
    assert ctx.search is not None  # the sample world's index (the report names it): opened before measuring
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    anon = AnonPeak()
    t0 = time.perf_counter()
    if phase == "export":
        out = ExportStage().run(ctx)["samples"]
    elif phase == "stats":
        out = collect_stats(ctx)["counts"]["samples"]
    else:
        write_report(ctx)
        out = json.loads((run / "report" / "stats.json").read_text())["counts"]["samples"]
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"phase": phase, "samples": out, "seconds": dt, "rss_before_mb": before, "peak_rss_mb": peak,
                      "peak_anon_mb": anon.stop()}))


class AnonPeak:
    """Peak anonymous RSS (heap; without file pages mapped from the Arrow files ``datasets`` writes through
    mmap, which the kernel can drop at any time), sampled every 20 ms from /proc/self/status."""

    def __init__(self) -> None:
        self.peak = self.read()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    @staticmethod
    def read() -> float:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.read())

    def stop(self) -> float:
        self._stop.set()
        self._t.join()
        return max(self.peak, self.read())


def part_export_memory(tmp: Path, sizes: list[int]) -> None:
    for n in sizes:
        t0 = time.perf_counter()
        run = make_stub_run(n, tmp)
        mb = (run / "samples.jsonl").stat().st_size / 2**20
        print(f"[export-memory] {n:,} stub samples ({mb:.0f} MB samples.jsonl) written in {time.perf_counter() - t0:.0f} s")
        for phase in ("export", "stats", "report"):
            r = subprocess.run([sys.executable, __file__, "--export-child", str(run), "--phase", phase],
                               capture_output=True, text=True)
            if r.returncode != 0:
                print(f"[export-memory] {n:,} {phase}: failed: {r.stderr[-1500:]}")
                continue
            d = json.loads(r.stdout.strip().splitlines()[-1])
            what = {"export": "export (slime + verl + hf, 10% held out by chain)", "stats": "report statistics",
                    "report": "whole report (statistics, plots, report.md, HTML page)"}[phase]
            print(f"[export-memory] {n:,} samples, {what}: {d['seconds']:.1f} s, peak RSS {d['peak_rss_mb']:.0f} MB, "
                  f"peak anonymous RSS {d['peak_anon_mb']:.0f} MB (after imports and opening the world: RSS "
                  f"{d['rss_before_mb']:.0f} MB) ({load()})")
        shutil.rmtree(run, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", default="cluster,assembly,pool,memory,export-memory")
    ap.add_argument("--chains", type=int, default=8, help="walks of the cluster identity build")
    ap.add_argument("--tput-chains", type=int, default=150, help="walks feeding the assembly throughput run")
    ap.add_argument("--tput-repeats", type=int, default=3, help="back-to-back 1 vs 2 worker pairs")
    ap.add_argument("--tput-max-tokens", type=int, default=65536)
    ap.add_argument("--pool-n", type=int, default=600)
    ap.add_argument("--pool-latency", type=float, default=0.2, help="seconds per answer of the fast endpoints")
    ap.add_argument("--export-sizes", default="10000,100000", help="stub samples of the export/report memory part")
    ap.add_argument("--rss-child", type=int, default=None)
    ap.add_argument("--export-child", default=None)
    ap.add_argument("--phase", default="export")
    ap.add_argument("--tmp", default=None)
    a = ap.parse_args()
    if a.export_child is not None:
        export_child(Path(a.export_child), a.phase)
        return
    if a.rss_child is not None:
        rss_child(a.rss_child, Path(a.tmp))
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    os.environ.setdefault("LONGTRACERL_HOME", str(tmp / "home"))
    try:
        parts = a.parts.split(",")
        if "pool" in parts:
            part_pool(a.pool_n, 8, a.pool_latency)
        if "memory" in parts:
            part_memory(tmp)
        if "export-memory" in parts:
            part_export_memory(tmp, [int(x) for x in a.export_sizes.split(",")])
        if "assembly" in parts:
            part_assembly(tmp, a.tput_chains, a.tput_max_tokens, a.tput_repeats)
        if "cluster" in parts:
            part_cluster(tmp, a.chains)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
