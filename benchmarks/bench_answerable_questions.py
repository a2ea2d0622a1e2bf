"""Are LLM-free questions answerable? The whole offline build (template writer + non-oracle solver) on the
bundled sample world and on real 2WikiMultihopQA paragraphs (``corpus ingest --format context``, graph from
triples + title mentions), read from ../shared/data.

Prints per world: walks -> chains, chains -> kept samples, the question rejects (hop_ambiguous, shortcut,
...), kept questions whose hop is ambiguous when re-checked (must be 0), the solver's solve rate on kept
questions and on the same questions with their hop clues deleted (must drop sharply), its mean searches and
opens, and the distractor mention share of each strategy (paper ordering: random < one-shot < trajectory).

    python benchmarks/bench_answerable_questions.py            # BENCH_N=60 walks per world
    BENCH_WORLDS=wiki python benchmarks/bench_answerable_questions.py
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from longtracerl.config import BuildConfig
from longtracerl.io import read_records
from longtracerl.paths import shared_data_dir
from longtracerl.pipeline.build import run_build
from longtracerl.records import Chain, Question
from longtracerl.reward import get_outcome_scorer
from longtracerl.synth.agent import ClueSolver
from longtracerl.synth.agent.collect import score_trajectory
from longtracerl.synth.questions import ValidationConfig
from longtracerl.synth.questions.checks import check_hops
from longtracerl.synth.questions.clues import ClueContext

N = int(os.environ.get("BENCH_N", "60"))
WORLDS = os.environ.get("BENCH_WORLDS", "sample,wiki").split(",")


def strip_hop_clues(q: Question) -> Question:
    """Every clue after the seed's emptied; the relation phrases and the seed stay."""
    n = [0]

    def rep(m: re.Match[str]) -> str:
        n[0] += 1
        return m.group(0) if n[0] == 1 else m.group(1) + ': ""'

    return q.model_copy(update={"question": re.sub(r'(says|described thus):\s*"[^"]*"', rep, q.question)})


def solve_rate(qs: list[Question], solver: ClueSolver, attempts: int) -> float:
    scorer = get_outcome_scorer("contains")
    ok = 0
    for q in qs:
        for a in range(1, attempts + 1):
            t = asyncio.run(score_trajectory(asyncio.run(solver.solve(q, a)), q, scorer))
            if t.correct:
                ok += 1
                break
    return ok / len(qs) if qs else float("nan")


def report(name: str, cfg: BuildConfig) -> None:
    t0 = time.perf_counter()
    ctx = run_build(cfg, progress=False)
    dt = time.perf_counter() - t0
    stats = json.loads((ctx.dir / "report" / "stats.json").read_text())
    qq, f = stats["questions_quality"], stats["funnel"]
    qs = read_records(ctx.questions, Question)
    chains = {c.chain_id: c for c in read_records(ctx.chains, Chain)}
    clues = ClueContext(ctx.docstore, ctx.graph, ctx.search)
    vcfg = ValidationConfig(hop_margin=cfg.questions.hop_margin)
    ambiguous = sum(1 for q in qs if any(r == "hop_ambiguous" for r, _ in check_hops(
        _draft(q), chains[q.chain_id], clues, vcfg).fails))
    solver = ClueSolver(ctx.search, k=cfg.agent.solver_k, seed=cfg.seed)
    kept = [q for q in qs if q.question_id in {t for t in _solved(ctx)}]
    stripped = solve_rate([strip_hop_clues(q) for q in kept], solver, cfg.agent.attempts)
    print(f"\n== {name}: {f['walks_attempted']} walks, build {dt:.0f} s (load {os.getloadavg()[0]:.1f})")
    print(f"walks -> chains        {f['chains']}/{f['walks_attempted']} = {100 * f['chains'] / max(1, f['walks_attempted']):.1f}%")
    print(f"chains -> kept samples {f['samples']}/{f['chains']} = {100 * f['samples'] / max(1, f['chains']):.1f}%  "
          f"(questions {f['questions']}, solved {f['solved']})")
    redundant = qq["rejects"].get("duplicate_chain", 0) + qq["rejects"].get("repeated_tail", 0)
    distinct = f["chains"] - redundant
    print(f"distinct chains -> kept {f['samples']}/{distinct} = {100 * f['samples'] / max(1, distinct):.1f}%  "
          f"({redundant} chains repeat an earlier path or its last {cfg.questions.same_tail_hops} entities)")
    print(f"hops pinned by         {qq.get('clue_kinds')}; distinct answers {qq.get('distinct_answers_pct')}%")
    print(f"question rejects       {qq['rejects']}")
    print(f"shortcut rate          {qq['rejects']['shortcut']}/{f['chains']} chains = "
          f"{100 * qq['rejects']['shortcut'] / max(1, f['chains']):.1f}% (policy {qq['shortcut_policy']})")
    print(f"kept with ambiguous hop (re-checked) {ambiguous} of {len(qs)}; answerable by construction "
          f"{qq['answerable_by_construction_pct']}%; jumps {qq['jumps']}")
    print(f"solver solve rate      kept questions {qq['solve_rate_pct']}% ; hop clues deleted "
          f"{100 * stripped:.1f}% ({len(kept)} questions, {cfg.agent.attempts} attempts each)")
    print(f"solver effort          {qq['mean_searches']} searches, {qq['mean_opens']} opens per kept trajectory")
    st = stats.get("strategies", {})
    shares = {k: v["share_pct"] for k, v in st.items()}
    order = [shares.get(k) for k in ("random", "one_shot_search", "trajectory_random", "trajectory_tiered")]
    ok = all(x is not None for x in order) and order[0] < order[1] < min(order[2], order[3])  # type: ignore[operator]
    print(f"mention share %        {shares}  ordering random < one-shot < trajectory: {ok}")


def _draft(q: Question):  # type: ignore[no-untyped-def]
    from longtracerl.synth.questions import Draft

    return Draft(question=q.question, answer=q.answer, gold_entities=q.gold_entities, hop_clues=q.hop_clues,
                 info={"hops_used": q.validation.get("hops_used")} if q.validation.get("hops_used") else {})


def _solved(ctx) -> set[str]:  # type: ignore[no-untyped-def]
    from longtracerl.records import Trajectory

    return {t.question_id for t in read_records(ctx.trajectories, Trajectory)}


def wiki_world(tmp: Path) -> dict[str, str] | None:
    data = shared_data_dir()
    if data is None:
        print("\n== 2wiki: skipped (../shared/data is not beside this clone)")
        return None
    src = data / "2wiki_dev_500.json"
    cli = [sys.executable, "-m", "longtracerl.cli"]
    for args in (["corpus", "ingest", str(src), "--format", "context", "--out", str(tmp / "docs")],
                 ["index", "--corpus", str(tmp / "docs")],
                 ["graph", "build", "--mentions", "--docstore", str(tmp / "docs"), "--triples", str(src),
                  "--out", str(tmp / "graph")]):
        subprocess.run(cli + args, check=True, capture_output=True)
    return {"kind": "custom", "docstore": str(tmp / "docs"), "index": str(tmp / "docs" / "index"),
            "graph": str(tmp / "graph")}


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        base = {"out": str(tmp / "runs"), "walk": {"n_chains": N}}
        if "sample" in WORLDS:
            report("sample world (CIA World Factbook)", BuildConfig.model_validate({**base, "name": "sample"}))
        world = wiki_world(tmp / "wiki") if "wiki" in WORLDS else None
        if world is not None:
            report("2WikiMultihopQA paragraphs (dev 500 contexts, triples + mentions)",
                   BuildConfig.model_validate({**base, "name": "wiki", "world": world}))


if __name__ == "__main__":
    main()
