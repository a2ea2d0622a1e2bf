"""The paper's path on a served model (issue 19): ``build --preset paper`` against ``serve-twin`` over real HTTP.

Parts (all print their figures; write them into docs/scale.md as they come out):

1. served: the paper-preset build of ``--walks`` walks on the 2WikiMultihopQA world (``../shared/data``, ingested,
   indexed and graphed here as README "Train with GRPO" does) against a twin with capacity 32 and 30B-class
   latencies (writer 3 s, agent turn 1.5 s, judge 0.4 s, chooser 0.3 s) shrunk by ``--time-scale``: wall time of
   each LLM stage against the ideal for that capacity (the calls actually served: their summed latencies / 32,
   or the stage's critical path when larger), without and with ``world.search_url`` (a real ``serve-search``).
   The build's own caps are raised to the capacity (llm.max_concurrency, questions/agent concurrency = 32),
   as a user rehearsing a 32-sequence endpoint would; the walk stage runs at most 16 walks at once (its
   hard-coded concurrency). L = ``--max-tokens`` (the LLM stages do not depend on it; 2Wiki paragraphs at 128K
   would make assembly, not the endpoint, the subject).
2. pool: the same build (``--pool-walks``) over two twins, one failing a third of its requests (503): samples
   identical to a single healthy twin's, 0 lost.
3. kill: kill -9 the build during the agent stage, rerun: files identical to the uninterrupted run's.
4. dry-run: ``build --dry-run`` on the sample world (its forecast), then the same build for real against a
   ``serve-twin`` with the same latencies: forecast calls and tokens against those the twin actually served.

Run: python benchmarks/bench_served_path.py [--parts served,pool,kill,dry] [--walks 200] [--time-scale 0.2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from longtracerl.netutil import free_port, wait_http
from longtracerl.paths import shared_data_dir

CLI = [sys.executable, "-m", "longtracerl.cli"]
LAT = {"chooser": 0.3, "writer": 3.0, "agent": 1.5, "judge": 0.4}
STAGE_ROLES = {"walk": ("chooser",), "questions": ("writer",), "agent": ("agent", "judge")}
DATA = ["chains.jsonl", "questions.jsonl", "rejected.jsonl", "trajectories.jsonl", "samples.jsonl",
        "export/slime.jsonl"]
CAPS = ["--set", "llm.max_concurrency=32", "--set", "questions.concurrency=32", "--set", "agent.concurrency=32"]


def load() -> str:
    a, b, c = os.getloadavg()
    return f"load average {a:.2f} {b:.2f} {c:.2f} on {os.cpu_count()} CPUs"


def wiki_world(tmp: Path) -> Path:
    """Ingest, index and graph 2wiki_dev_500.json; returns a config YAML holding the ``world:`` section."""
    data = shared_data_dir()
    if data is None:
        sys.exit("../shared/data (2WikiMultihopQA) is not beside this clone")
    src = data / "2wiki_dev_500.json"
    t0 = time.perf_counter()
    for args in (["corpus", "ingest", str(src), "--format", "context", "--out", str(tmp / "docs")],
                 ["index", "--corpus", str(tmp / "docs")],
                 ["graph", "build", "--mentions", "--docstore", str(tmp / "docs"), "--triples", str(src),
                  "--out", str(tmp / "graph")]):
        subprocess.run(CLI + args, check=True, capture_output=True)
    world = {"kind": "custom", "docstore": str(tmp / "docs"), "index": str(tmp / "docs" / "index"),
             "graph": str(tmp / "graph")}
    p = tmp / "world.yaml"
    p.write_text(yaml.safe_dump({"world": world}))
    print(f"2Wiki world ready in {time.perf_counter() - t0:.0f} s", flush=True)
    return p


class Server:
    """A CLI server process on a free port (killed at exit)."""

    def __init__(self, args: list[str], log: Path, health: str = "/health") -> None:
        self.port = free_port()
        self.log = log.open("w")
        self.proc = subprocess.Popen(CLI + args + ["--port", str(self.port)], stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_http(f"http://127.0.0.1:{self.port}{health}", timeout=300, proc=self.proc)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/stats", timeout=30).json()  # type: ignore[no-any-return]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def twin(tmp: Path, name: str, world: Path | str, scale: float, memory: Path, tokenizer: str | None = "chars",
         **extra: Any) -> Server:
    if name not in ("good", "bad"):  # the two twins of the pool share one memory
        memory.unlink(missing_ok=True)
    args = ["serve-twin", "--world", str(world), "--time-scale", str(scale), "--capacity", "32",
            "--memory", str(memory)] + (["--tokenizer", tokenizer] if tokenizer else [])
    for role, sec in LAT.items():
        args += ["--latency", f"{role}={sec}"]
    for k, v in extra.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    return Server(args, tmp / f"{name}.log")


HOPS = ["--set", "walk.hops=3"]


def build_cmd(out: Path, name: str, urls: list[str], walks: int, tok: Path, world: Path | None, max_tokens: int,
              *extra: str) -> list[str]:
    shutil.rmtree(out / name, ignore_errors=True)  # a fresh run each time (a leftover would only be resumed)
    cmd = CLI + ["build", "--preset", "paper", "--llm", "openai", "--model", "twin", "--tokenizer", str(tok),
                 "--out", str(out), "--name", name, "--n-chains", str(walks), "--max-tokens", str(max_tokens),
                 "--quiet", *CAPS, *extra]
    if world is not None:
        cmd += ["--config", str(world)]
    for u in urls:
        cmd += ["--base-url", f"{u}/v1"]
    return cmd


def run(cmd: list[str], log: Path) -> float:
    t0 = time.perf_counter()
    with log.open("w") as f:
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, timeout=7200)
    if r.returncode != 0:
        sys.exit(f"build failed ({r.returncode}); see {log}:\n" + log.read_text()[-3000:])
    return time.perf_counter() - t0


def manifest_seconds(run_dir: Path) -> dict[str, float]:
    m = json.loads((run_dir / "manifest.json").read_text())
    return {k: sum(r.get("seconds", 0.0) for r in v["runs"]) for k, v in m["stages"].items()}


def ideal(st: dict[str, Any], scale: float, hops: int) -> dict[str, dict[str, float]]:
    """Per LLM stage: summed latencies of the calls served / 32, or the critical path when larger."""
    out: dict[str, dict[str, float]] = {}
    for stage, roles in STAGE_ROLES.items():
        busy = sum(st["roles"].get(r, {}).get("latency_ms", 0) for r in roles) / 1000 * scale
        calls = sum(st["roles"].get(r, {}).get("calls", 0) for r in roles)
        crit = (hops * LAT["chooser"] if stage == "walk" else st.get("critical_seconds", {}).get(stage, 0.0)) * scale
        out[stage] = {"calls": calls, "busy": busy, "critical": crit, "ideal": max(busy / 32, crit)}
    return out


def count(p: Path) -> int:
    return p.read_bytes().count(b"\n") if p.exists() else 0


def yield_line(d: Path) -> str:
    return (f"{count(d / 'chains.jsonl')} chains -> {count(d / 'questions.jsonl')} questions -> "
            f"{count(d / 'trajectories.jsonl')} solved -> {count(d / 'samples.jsonl')} samples")


def part_served(tmp: Path, world: Path, tok: Path, walks: int, scale: float, max_tokens: int, label: str,
                hops: int) -> None:
    print(f"\n== served path: paper preset ({hops} moves per walk), {walks} walks, 2Wiki world, capacity 32, "
          f"30B latencies x{scale} ({label}); {load()}", flush=True)
    wcfg = yaml.safe_load(world.read_text())["world"]
    for mode in ("local index", "search_url"):
        name = f"served-{label.replace(' ', '-')}-{mode.split()[0]}"
        search = None
        extra: list[str] = []
        if mode == "search_url":
            search = Server(["serve-search", "--corpus", wcfg["docstore"], "--index", wcfg["index"]],
                            tmp / f"{name}-search.log", health="/health")
            extra = ["--set", f"world.search_url={search.url}"]
        tw = twin(tmp, name, world, scale, tmp / f"{name}.sqlite")
        try:
            wall = run(build_cmd(tmp / "runs", name, [tw.url], walks, tok, world, max_tokens,
                                 "--set", f"walk.hops={hops}", *extra),
                       tmp / f"{name}.log")
            st = tw.stats()
        finally:
            tw.stop()
            if search is not None:
                search.stop()
        secs = manifest_seconds(tmp / "runs" / name)
        ide = ideal(st, scale, hops)
        print(f"-- {mode}: build wall {wall:.0f} s; {yield_line(tmp / 'runs' / name)}; twin peak in flight "
              f"{st['max_in_flight']} of 32, queued peak {st['max_queued']}", flush=True)
        tot_w = tot_i = 0.0
        for stage, v in ide.items():
            w = secs.get(stage, 0.0)
            tot_w += w
            tot_i += v["ideal"]
            print(f"   {stage:<9} {v['calls']:>6} calls  wall {w:7.1f} s  ideal {v['ideal']:6.1f} s "
                  f"(latency sum/32 {v['busy'] / 32:6.1f} s, critical path {v['critical']:5.1f} s)  "
                  f"ratio {w / v['ideal'] if v['ideal'] else float('nan'):.2f}x", flush=True)
        print(f"   LLM stages: wall {tot_w:.1f} s vs ideal {tot_i:.1f} s = {tot_w / tot_i:.2f}x; CPU stages "
              f"assembly {secs.get('assembly', 0):.1f} s, export {secs.get('export', 0):.1f} s, report "
              f"{secs.get('report', 0):.1f} s", flush=True)


def normalised(path: Path) -> list[str]:
    """Rows without the two fields that say how, not what: each attempt's wall-clock LLM seconds
    (trajectories' usage.seconds) and the writer's backend name ("pool" behind a pool, else "openai")."""
    out = []
    for line in path.read_text().splitlines():
        o = json.loads(line)
        if isinstance(o.get("usage"), dict):
            o["usage"].pop("seconds", None)
        if isinstance(o.get("writer"), dict):
            o["writer"].pop("backend", None)
        out.append(json.dumps(o, sort_keys=True))
    return out


def same(a: Path, b: Path) -> dict[str, bool]:
    res = {}
    for f in DATA:
        pa, pb = a / f, b / f
        if f in ("trajectories.jsonl", "questions.jsonl"):
            res[f] = pa.exists() and pb.exists() and normalised(pa) == normalised(pb)
        else:
            res[f] = pa.exists() and pb.exists() and pa.read_bytes() == pb.read_bytes()
    return res


def part_pool(tmp: Path, world: Path, tok: Path, walks: int, max_tokens: int) -> Path:
    print(f"\n== pool: two twins, one failing 1/3 of its requests (503), {walks} walks; {load()}", flush=True)
    tw = twin(tmp, "ref", world, 0.0, tmp / "ref.sqlite")
    try:
        run(build_cmd(tmp / "runs", "ref", [tw.url], walks, tok, world, max_tokens, *HOPS), tmp / "ref-build.log")
    finally:
        tw.stop()
    (tmp / "pool.sqlite").unlink(missing_ok=True)
    good = twin(tmp, "good", world, 0.0, tmp / "pool.sqlite")
    bad = twin(tmp, "bad", world, 0.0, tmp / "pool.sqlite", fail_rate=0.333, fault_seed=7)
    try:
        run(build_cmd(tmp / "runs", "pool", [good.url, bad.url], walks, tok, world, max_tokens, *HOPS),
            tmp / "pool-build.log")
        sg, sb = good.stats(), bad.stats()
    finally:
        good.stop()
        bad.stop()
    served = lambda s: sum(r["calls"] for r in s["roles"].values())  # noqa: E731
    rej = [json.loads(x) for x in (tmp / "runs" / "pool" / "rejected.jsonl").read_text().splitlines() if x.strip()]
    lost = sum(1 for r in rej if r.get("reason") in ("llm_error", "scorer_error"))
    print(f"-- reference (one healthy twin): {yield_line(tmp / 'runs' / 'ref')}")
    print(f"-- pool: {yield_line(tmp / 'runs' / 'pool')}; healthy twin served {served(sg)}, failing twin served "
          f"{served(sb)} and failed {sum(sb['faults'].values())} ({sb['faults']}); items lost to LLM errors: {lost}")
    print(f"-- identical to the reference: {same(tmp / 'runs' / 'ref', tmp / 'runs' / 'pool')}", flush=True)
    return tmp / "runs" / "ref"


def part_kill(tmp: Path, world: Path, tok: Path, walks: int, max_tokens: int, ref: Path) -> None:
    print(f"\n== kill -9 during the agent stage, rerun; {walks} walks; {load()}", flush=True)
    tw = twin(tmp, "kill", world, 0.05, tmp / "kill.sqlite")
    try:
        cmd = build_cmd(tmp / "runs", "killed", [tw.url], walks, tok, world, max_tokens, *HOPS)
        run_dir = tmp / "runs" / "killed"
        with (tmp / "killed-1.log").open("w") as f:
            p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
            deadline = time.time() + 3600
            while time.time() < deadline and p.poll() is None:
                m = run_dir / "manifest.json"
                done = json.loads(m.read_text())["stages"] if m.exists() else {}
                if done.get("questions", {}).get("done") and count(run_dir / "trajectories.jsonl") >= 3:
                    break
                time.sleep(0.2)
            at = count(run_dir / "trajectories.jsonl")
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        print(f"-- killed with {at} trajectories written", flush=True)
        run(cmd, tmp / "killed-2.log")
    finally:
        tw.stop()
    print(f"-- rerun: {yield_line(run_dir)}; identical to the uninterrupted run: {same(ref, run_dir)}", flush=True)


def part_dry(tmp: Path, tok: Path, scale: float) -> None:
    print(f"\n== dry run on the sample world vs what a twin served for the same build; {load()}", flush=True)
    args = ["--preset", "paper", "--tokenizer", str(tok), "--n-chains", "12", "--set", "walk.hops=2",
            "--max-tokens", "40000", "--quiet"]
    lat = [x for role, sec in LAT.items() for x in ("--latency", f"{role}={sec}")]
    shutil.rmtree(tmp / "dry", ignore_errors=True)
    shutil.rmtree(tmp / "runs" / "real", ignore_errors=True)
    t0 = time.perf_counter()
    run(CLI + ["build", "--dry-run", "--scratch", str(tmp / "dry"), "--capacity", "32", *lat, *args],
        tmp / "dry.log")
    dry_wall = time.perf_counter() - t0
    fc = json.loads((tmp / "dry" / "default" / "dry_run.json").read_text())
    tw = twin(tmp, "real", "sample", scale, tmp / "real.sqlite", tokenizer=None)  # the dry run's own count
    try:
        run(CLI + ["build", "--llm", "openai", "--base-url", f"{tw.url}/v1", "--model", "twin",
                          "--out", str(tmp / "runs"), "--name", "real", *args], tmp / "real.log")
        st = tw.stats()
    finally:
        tw.stop()
    print(f"-- dry run took {dry_wall:.0f} s; forecast {fc['forecast_seconds']:.0f} s at capacity 32 "
          f"(LLM stages at full latency, CPU stages as measured)")
    print(f"   {'role':<8} {'calls fc/served':>16} {'prompt tok fc/served':>24} {'completion tok fc/served':>26}")
    for role, r in fc["roles"].items():
        s = st["roles"].get(role, {})
        print(f"   {role:<8} {r['calls']:>7} / {s.get('calls', 0):<7} {r['prompt_tokens']:>11,} / "
              f"{s.get('prompt_tokens', 0):<11,} {r['completion_tokens']:>11,} / {s.get('completion_tokens', 0):<11,}")
    secs = manifest_seconds(tmp / "runs" / "real")
    per = ", ".join(f"{k} {v['forecast_seconds']:.0f} s (latency {max(v['ideal_seconds'], v['critical_seconds']):.0f},"
                    f" CPU {v['cpu_seconds']:.0f})" for k, v in fc["stages"].items())
    real = ", ".join(f"{k} {secs.get(k, 0.0):.0f} s" for k in STAGE_ROLES)
    print(f"-- forecast per LLM stage at full latency: {per}")
    print(f"-- the real build against a twin at x{scale} latency: {real}; yield forecast {fc['yield']['samples']} "
          f"samples, real {count(tmp / 'runs' / 'real' / 'samples.jsonl')}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", default="served,pool,kill,dry")
    ap.add_argument("--walks", type=int, default=200)
    ap.add_argument("--pool-walks", type=int, default=40)
    ap.add_argument("--time-scale", type=float, default=0.2)
    ap.add_argument("--max-tokens", type=int, default=8192)
    ap.add_argument("--hops", type=int, default=3, help="moves per walk of the served part (the paper's 8 leave "
                    "195 of 200 walks dead-ended on the 2Wiki dev-500 graph)")
    ap.add_argument("--label", default="before the async fix")
    ap.add_argument("--keep", default=None, help="work directory to keep (default: a temporary one)")
    a = ap.parse_args()
    parts = a.parts.split(",")
    tmp = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="bench-served-"))
    tmp.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("LONGTRACERL_HOME", str(tmp / "home"))
    from longtracerl.llm.tokenizers import load_tokenizer

    tok = tmp / "tokenizer"
    if not tok.exists():
        load_tokenizer().save_pretrained(str(tok))
    world = tmp / "wiki" / "world.yaml"
    if {"served", "pool", "kill"} & set(parts) and not world.exists():
        world = wiki_world(tmp / "wiki")
    ref = None
    if "served" in parts:
        part_served(tmp, world, tok, a.walks, a.time_scale, a.max_tokens, a.label, a.hops)
    if "pool" in parts or "kill" in parts:
        ref = part_pool(tmp, world, tok, a.pool_walks, a.max_tokens)
    if "kill" in parts and ref is not None:
        part_kill(tmp, world, tok, a.pool_walks, a.max_tokens, ref)
    if "dry" in parts:
        part_dry(tmp, tok, a.time_scale)
    print(f"\n(work directory: {tmp})")


if __name__ == "__main__":
    main()
