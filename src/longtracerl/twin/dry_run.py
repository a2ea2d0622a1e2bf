"""``longtracerl build --dry-run``: the whole build against a twin, and what the real run will cost.

Every LLM role is pointed at a twin (one started here, instant, or ``twin_url``), the build runs into a scratch
run directory (never the real one), and the twin's own counters give calls and tokens per role. Wall time is
forecast for the endpoint the user states: per LLM stage, the larger of (the stage's summed call latencies over
the sequences that can run at once: the endpoint ``capacity`` or the build's own concurrency, whichever is
smaller) and its critical path (the calls that must run one after the other: a walk's hops, a chain's writer
attempts, a question's agent turns and judge calls). CPU stages are reported as measured here.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from longtracerl.config import BuildConfig
from longtracerl.twin.brain import Knowledge
from longtracerl.twin.memory import TwinMemory
from longtracerl.twin.service import LATENCY_30B, Twin, TwinConfig, create_twin_app

STAGE_ROLES = {"walk": ("chooser",), "questions": ("writer",), "agent": ("agent", "judge")}


@contextmanager
def running_twin(cfg: TwinConfig, memory: TwinMemory | None = None, knowledge: Knowledge | None = None) -> Iterator[str]:
    """A twin served on a free 127.0.0.1 port in a thread of this process; yields its base URL (``.../v1``)."""
    import uvicorn

    from longtracerl.netutil import free_port, wait_http

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_twin_app(Twin(cfg, memory, knowledge)), host="127.0.0.1", port=port,
                                           log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True, name="serve-twin")
    t.start()
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=30)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        t.join(timeout=10)


def twin_stats(base_url: str, token: str | None = None) -> dict[str, Any]:
    root = base_url.rstrip("/").removesuffix("/v1")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = httpx.get(f"{root}/stats", headers=headers, timeout=30)
    r.raise_for_status()
    return r.json()  # type: ignore[no-any-return]


def _count(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


def forecast(before: dict[str, Any], after: dict[str, Any], cfg: BuildConfig, *, capacity: int,
             latency: dict[str, float], run_dir: Path) -> dict[str, Any]:
    """Calls, tokens and wall time per role and stage from two ``/stats`` snapshots around a build."""
    import json

    roles: dict[str, dict[str, float]] = {}
    for role, now in after.get("roles", {}).items():
        was = before.get("roles", {}).get(role, {})
        d = {k: now.get(k, 0) - was.get(k, 0) for k in ("calls", "prompt_tokens", "completion_tokens", "finish_length")}
        if d["calls"]:
            roles[role] = {**d, "latency": latency.get(role, latency.get("other", 1.0))}
    counts = {"walks": cfg.walk.n_chains, "chains": _count(run_dir / "chains.jsonl"),
              "questions": _count(run_dir / "questions.jsonl"), "trajectories": _count(run_dir / "trajectories.jsonl"),
              "samples": _count(run_dir / "samples.jsonl")}
    kept = max(1, counts["samples"])
    for r in roles.values():
        r["calls_per_sample"] = round(r["calls"] / kept, 2)
        r["tokens_per_sample"] = round((r["prompt_tokens"] + r["completion_tokens"]) / kept, 1)
        r["busy_seconds"] = round(r["calls"] * r["latency"], 1)
    n_endpoints = len(cfg.llm.base_url) if isinstance(cfg.llm.base_url, list) else 1
    client_cap = cfg.llm.max_concurrency * n_endpoints
    stage_conc = {"walk": 16, "questions": cfg.questions.concurrency, "agent": cfg.agent.concurrency}
    crit = after.get("critical_seconds", {})
    manifest = json.loads((run_dir / "manifest.json").read_text()) if (run_dir / "manifest.json").exists() else {}
    measured = {k: sum(r.get("seconds", 0.0) for r in v.get("runs", [])) for k, v in manifest.get("stages", {}).items()}
    stages: dict[str, dict[str, float]] = {}
    for stage, rs in STAGE_ROLES.items():
        busy = sum(roles[r]["busy_seconds"] for r in rs if r in roles)
        if not busy:
            continue
        par = max(1, min(capacity, client_cap, stage_conc[stage]))
        critical = (cfg.walk.hops * latency.get("chooser", 0.3) if stage == "walk" else float(crit.get(stage, 0.0)))
        # the stage's own CPU work (checks, searches) measured here with an instant twin: a floor (an upper one:
        # the twin shared this process)
        cpu_floor = float(measured.get(stage, 0.0))
        stages[stage] = {"busy_seconds": round(busy, 1), "parallel": par, "ideal_seconds": round(busy / par, 1),
                         "critical_seconds": round(critical, 1), "cpu_seconds": round(cpu_floor, 1),
                         "forecast_seconds": round(max(busy / par, critical, cpu_floor), 1),
                         "capped_by_build": par < capacity}
    cpu = {k: round(v, 1) for k, v in measured.items() if k not in STAGE_ROLES}
    total = sum(s["forecast_seconds"] for s in stages.values()) + sum(cpu.values())
    return {"roles": roles, "stages": stages, "cpu_stages_measured": cpu, "yield": counts,
            "forecast_seconds": round(total, 1), "capacity": capacity, "client_cap": client_cap,
            "faults": after.get("faults", {})}


def dry_run(cfg: BuildConfig, *, twin_url: str | None = None, token: str | None = None, capacity: int = 32,
            latency: dict[str, float] | None = None, scratch: Path | None = None, progress: bool = True,
            log: Callable[..., Any] | None = None) -> tuple[dict[str, Any], Path]:
    """Run ``cfg`` against a twin into a scratch directory; returns (forecast, scratch run dir)."""
    from longtracerl.pipeline.build import run_build

    lat = {**LATENCY_30B, **(latency or {})}
    base = Path(scratch) if scratch is not None else Path(tempfile.mkdtemp(prefix="longtracerl-dryrun-"))
    real = cfg.run_dir.resolve()
    data = cfg.model_dump(mode="json")

    def configured(url: str) -> BuildConfig:
        data["llm"] = {**data["llm"], "kind": "openai", "base_url": url, "model": data["llm"].get("model") or "twin",
                       "api_key": token or "none"}
        data["out"] = str(base)
        out = BuildConfig.model_validate(data)
        if out.run_dir.resolve() == real:
            raise ValueError(f"--dry-run would write into the real run directory {real}; choose another --scratch")
        return out

    def go(url: str) -> tuple[dict[str, Any], Path]:
        c = configured(url)
        before = twin_stats(url, token)
        if log is not None:
            log(f"dry run: every LLM role -> twin at {url}; scratch run directory {c.run_dir}")
        run_build(c, progress=progress, log=log)
        after = twin_stats(url, token)
        return forecast(before, after, c, capacity=capacity, latency=lat, run_dir=c.run_dir), c.run_dir

    if twin_url:
        return go(twin_url)
    from longtracerl.pipeline.context import RunContext

    world = RunContext(configured("http://127.0.0.1:0/v1"), progress=progress)  # the twin knows the build's world
    knowledge = Knowledge(world.docstore, world.graph, world.search)
    with running_twin(TwinConfig(capacity=capacity, latency=lat, time_scale=0.0, seed=cfg.seed),
                      knowledge=knowledge) as url:
        return go(url)


def print_forecast(fc: dict[str, Any], console: Any) -> None:
    """The dry run's tables: per role, per stage, the yield."""
    from rich.table import Table

    t = Table(title=f"dry run: LLM cost per role (/sample: per kept sample, {fc['yield']['samples']} kept; "
                    "cut: replies cut at max_tokens)")
    for col in ("role", "calls", "prompt tok", "compl. tok", "calls/sample", "tok/sample", "s/call", "cut"):
        t.add_column(col, justify="left" if col == "role" else "right")
    for role, r in fc["roles"].items():
        t.add_row(role, f"{r['calls']:,}", f"{r['prompt_tokens']:,}", f"{r['completion_tokens']:,}",
                  f"{r['calls_per_sample']}", f"{r['tokens_per_sample']:,}", f"{r['latency']}", f"{r['finish_length']}")
    console.print(t)
    s = Table(title=f"wall time at capacity {fc['capacity']} sequences (build's own cap: {fc['client_cap']} requests; "
                    "* = the build's concurrency, not the endpoint, limits the stage; CPU s = measured here)")
    for col in ("stage", "LLM s", "parallel", "ideal s", "critical s", "CPU s", "forecast s"):
        s.add_column(col, justify="left" if col == "stage" else "right")
    for stage, v in fc["stages"].items():
        par = f"{v['parallel']}" + ("*" if v["capped_by_build"] else "")
        s.add_row(stage, f"{v['busy_seconds']:,}", par, f"{v['ideal_seconds']:,}", f"{v['critical_seconds']:,}",
                  f"{v['cpu_seconds']:,}", f"{v['forecast_seconds']:,}")
    for stage, sec in fc["cpu_stages_measured"].items():
        s.add_row(stage, "", "", "", "", f"{sec:,}", f"{sec:,}")
    s.add_row("[bold]total[/]", "", "", "", "", "", f"[bold]{fc['forecast_seconds']:,}[/]")
    console.print(s)
    y = fc["yield"]
    console.print(f"yield: {y['walks']} walks -> {y['chains']} chains -> {y['questions']} questions -> "
                  f"{y['trajectories']} solved -> {y['samples']} samples", highlight=False)
