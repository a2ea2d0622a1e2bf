"""End-to-end ``longtracerl build`` throughput on the sample world: samples per minute.

1. chain-guided agent (LLM-free) at L=32K;  2. the bundled model (``--llm local``) for questions and agent,
with fewer chains. Each run uses a fresh run directory (no resume) under a temporary directory; the sample
world, graph and tokenizer caches are warmed first so only the build itself is timed.
Run: .venv/bin/python benchmarks/bench_pipeline_e2e.py [--chains 40] [--llm-chains 3] [--skip-llm]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from longtracerl.config import BuildConfig
from longtracerl.pipeline.build import run_build


def _run(out: str, name: str, overrides: list[str], extra: dict[str, object]) -> None:
    cfg = BuildConfig.load(None, overrides, {"out": out, "name": name, **extra})
    t0 = time.perf_counter()
    ctx = run_build(cfg, progress=False)
    dt = time.perf_counter() - t0
    stats = json.loads((ctx.dir / "report" / "stats.json").read_text())
    m = json.loads((ctx.dir / "manifest.json").read_text())["stages"]
    n = stats["counts"]["samples"]
    stages = ", ".join(f"{k} {v['runs'][-1]['seconds']:.1f}s" for k, v in m.items())
    print(f"[{name}] {n} samples from {cfg.walk.n_chains} walks in {dt:.1f} s = {60 * n / dt:.1f} samples/min "
          f"(L={cfg.assembly.max_tokens:,}, mean {stats['context_tokens']['mean']:,} tokens; "
          f"LLM calls {stats['llm_usage']['llm_calls']})")
    print(f"    stages: {stages}; dropped: {stats['rejected_by_stage']}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chains", type=int, default=40)
    ap.add_argument("--llm-chains", type=int, default=3)
    ap.add_argument("--skip-llm", action="store_true")
    args = ap.parse_args()
    from longtracerl.graph.sample import ensure_sample_graph
    from longtracerl.llm.tokenizers import load_tokenizer

    ensure_sample_graph()
    load_tokenizer()
    with tempfile.TemporaryDirectory() as out:
        _run(out, "chain_guided_32k", ["walk.hops=2"], {"walk.n_chains": args.chains, "assembly.max_tokens": 32768})
        if not args.skip_llm:
            # every LLM role on the bundled SmolLM2-135M (question writer, agent)
            _run(out, "bundled_llm_all_32k", ["walk.hops=2", "agent.attempts=2", "agent.max_turns=6",
                                              "questions.attempts=2", "distractors.compare_all=false"],
                 {"walk.n_chains": args.llm_chains, "assembly.max_tokens": 32768, "llm.kind": "local"})
            # template questions, the bundled model as the search agent only
            _run(out, "bundled_llm_agent_32k", ["walk.hops=2", "agent.attempts=2", "agent.max_turns=6",
                                                "questions.writer=template", "distractors.compare_all=false"],
                 {"walk.n_chains": args.llm_chains, "assembly.max_tokens": 32768, "llm.kind": "local"})
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs "
          "(target: the default build finishes in a few minutes)")


if __name__ == "__main__":
    main()
