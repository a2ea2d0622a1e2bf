"""Are LLM-free questions answerable, and would a person want to read them? The whole offline build (template
writer + non-oracle solver) on the bundled sample world and on real 2WikiMultihopQA paragraphs (``corpus ingest
--format context``, graph from triples + title mentions), read from ../shared/data.

Prints per world: walks -> chains, chains -> kept samples, the question rejects by reason (hop_ambiguous,
reader_not_first, clue_<kind>, shortcut, ...), kept questions whose hop is ambiguous when re-checked (must be
0), the hops of kept questions that a second reader (the engine's BM25 over the previous entity's neighbours)
ranks first, hygiene problems left in kept clues, "entity" per question, distinct answers and distinct
last-two-hop paths, the busiest middle page, the walk stage's re-walks, the solver's solve rate on kept questions and with their hop clues deleted, its effort,
the distractor mention share of each strategy, and whether a build through ``serve-search`` writes the same
questions byte for byte as one reading the index from its path.

    python benchmarks/bench_answerable_questions.py            # BENCH_N=60 walks per world
    BENCH_WORLDS=wiki python benchmarks/bench_answerable_questions.py
    BENCH_OUT=DIR BENCH_PHASE=build ...   # only build (any version of the code), keep the runs in DIR
    BENCH_OUT=DIR BENCH_PHASE=measure ... # only measure the runs kept in DIR (how "before" was measured)
    BENCH_PHASE=bytes ...                 # only the local vs serve-search comparison (BENCH_BYTES_N=20 walks)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from longtracerl.config import BuildConfig
from longtracerl.io import read_records
from longtracerl.paths import shared_data_dir
from longtracerl.pipeline.build import run_build
from longtracerl.pipeline.context import RunContext
from longtracerl.records import Chain, Question, Trajectory
from longtracerl.reward import get_outcome_scorer
from longtracerl.synth.agent import ClueSolver
from longtracerl.synth.agent.collect import score_trajectory

N = int(os.environ.get("BENCH_N", "60"))
WORLDS = os.environ.get("BENCH_WORLDS", "sample,wiki").split(",")
PHASE = os.environ.get("BENCH_PHASE", "all")  # all | build | measure | bytes
BYTES_N = int(os.environ.get("BENCH_BYTES_N", "20"))  # walks of the local vs serve-search comparison
_CLUE_Q = re.compile(r'((?:says|described thus|described as|of which we read|whose page says):?\s*)"[^"]*"')


def strip_hop_clues(q: Question) -> Question:
    """Every clue after the seed's emptied; the relation phrases and the seed stay."""
    n = [0]

    def rep(m: re.Match[str]) -> str:
        n[0] += 1
        return m.group(0) if n[0] == 1 else m.group(1) + '""'

    return q.model_copy(update={"question": _CLUE_Q.sub(rep, q.question)})


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


def build(name: str, cfg: BuildConfig) -> None:
    """The build and the figures its report gives (works with any version of the code)."""
    t0 = time.perf_counter()
    ctx = run_build(cfg, progress=False)
    dt = time.perf_counter() - t0
    stats = json.loads((ctx.dir / "report" / "stats.json").read_text())
    qq, f = stats["questions_quality"], stats["funnel"]
    qs = read_records(ctx.questions, Question)
    solved = {t.question_id for t in read_records(ctx.trajectories, Trajectory)}
    solver = ClueSolver(ctx.search, k=cfg.agent.solver_k, seed=cfg.seed)
    kept = [q for q in qs if q.question_id in solved]
    stripped = solve_rate([strip_hop_clues(q) for q in kept], solver, cfg.agent.attempts)
    print(f"\n== {name}: {f['walks_attempted']} walks, build {dt:.0f} s (load {os.getloadavg()[0]:.1f})")
    print(f"walks -> chains        {f['chains']}/{f['walks_attempted']} = {100 * f['chains'] / max(1, f['walks_attempted']):.1f}%")
    print(f"chains -> kept samples {f['samples']}/{f['chains']} = {100 * f['samples'] / max(1, f['chains']):.1f}%  "
          f"(questions {f['questions']}, solved {f['solved']})")
    rejects = qq["rejects"]
    stages = json.loads((ctx.dir / "manifest.json").read_text())["stages"]
    var = (stages["walk"].get("runs") or [{}])[-1].get("variety")
    if var is not None:
        print(f"re-walks (walk stage)  repeats flagged {var['flagged']}, re-walked {var['rewalked']} in {var['rounds']} "
              f"round(s); left {var['left']}, rejected {var['rejected']}")
    runs = stages["questions"].get("runs") or [{}]
    dropped = runs[-1].get("hygiene_pieces_dropped", "n/a")
    print(f"question rejects       {dict(sorted(rejects.items()))}")
    print(f"clue rejections        {({k: v for k, v in sorted(rejects.items()) if k.startswith('clue_')})} "
          f"(questions); template clue candidates dropped {dropped}")
    print(f"shortcut rate          {rejects.get('shortcut', 0)}/{f['chains']} chains (policy {qq['shortcut_policy']})")
    print(f"hops pinned by         {qq.get('clue_kinds')}")
    print(f"solver solve rate      kept questions {qq['solve_rate_pct']}% ; hop clues deleted "
          f"{100 * stripped:.1f}% ({len(kept)} questions, {cfg.agent.attempts} attempts each)")
    print(f"solver effort          {qq['mean_searches']} searches, {qq['mean_opens']} opens per kept trajectory")
    st = stats.get("strategies", {})
    shares = {k: v["share_pct"] for k, v in st.items()}
    order = [shares.get(k) for k in ("random", "one_shot_search", "trajectory_random", "trajectory_tiered")]
    ok = all(x is not None for x in order) and order[0] < order[1] < min(order[2], order[3])  # type: ignore[operator]
    print(f"mention share %        {shares}  ordering random < one-shot < trajectory: {ok}")


def measure(name: str, cfg: BuildConfig) -> None:
    """What a reader of the kept questions sees (this version's instruments, also on an older build's output)."""
    from longtracerl.synth.questions import Draft, ValidationConfig
    from longtracerl.synth.questions.checks import check_hops, check_hygiene
    from longtracerl.synth.questions.clues import ClueConfig, ClueContext

    ctx = RunContext(cfg, progress=False)
    qs = read_records(ctx.questions, Question)
    chains = {c.chain_id: c for c in read_records(ctx.chains, Chain)}
    clues = ClueContext(ctx.docstore, ctx.graph, ctx.search, ClueConfig(hop_margin=cfg.questions.hop_margin))
    vcfg = ValidationConfig(hop_margin=cfg.questions.hop_margin)
    ambiguous, first, first_margin, n_hops = 0, 0, 0, 0
    dirty: Counter[str] = Counter()
    for q in qs:
        d = Draft(question=q.question, answer=q.answer, gold_entities=q.gold_entities, hop_clues=q.hop_clues,
                  info={k: q.validation[k] for k in ("hops_used", "type_words") if q.validation.get(k)})
        rep = check_hops(d, chains[q.chain_id], clues, vcfg)
        ambiguous += any(r == "hop_ambiguous" for r, _ in rep.fails)
        for rank, m in zip(rep.details["reader_ranks"], rep.details["reader_margins"], strict=True):
            if rank is None:
                continue
            n_hops += 1
            first += rank == 1
            first_margin += rank == 1 and m >= clues.cfg.reader_margin
        dirty.update(r for r, _ in check_hygiene(d, chains[q.chain_id], clues).fails)
    n = max(1, len(qs))
    entity = sum(len(re.findall(r"\bentit(?:y|ies)\b", q.question, re.I)) for q in qs) / n
    answers = len({q.answer.casefold() for q in qs})
    tails = len({tuple(h.entity_id for h in chains[q.chain_id].hops[-3:]) for q in qs})
    hubs = Counter(d for q in qs for d in dict.fromkeys(q.gold_doc_ids[1:-1]))
    top = hubs.most_common(1)[0] if hubs else ("-", 0)
    print(f"\n== {name}: measured on {len(qs)} kept questions")
    print(f"second reader          ranks the target first on {first}/{n_hops} = {100 * first / max(1, n_hops):.1f}% "
          f"of moved-to hops with a clue ({first_margin} = {100 * first_margin / max(1, n_hops):.1f}% with margin "
          f">= {clues.cfg.reader_margin}); ambiguous by IDF margin (re-checked): {ambiguous} questions")
    print(f"hygiene of kept clues  {dict(sorted(dirty.items())) or 'no problem'}")
    print(f"'entity' per question  {entity:.2f}")
    print(f"distinct answers       {answers}/{len(qs)} = {100 * answers / n:.1f}%; distinct last-two-hop paths "
          f"{tails}/{len(qs)} = {100 * tails / n:.1f}%")
    print(f"busiest middle page    {top[0]!r} in {top[1]} questions ({len(hubs)} distinct middle pages)")
    print("example questions:")
    for q in qs[:3]:
        print(f"  - {q.question}  [answer: {q.answer}]")


def byte_equality(cfg: BuildConfig, out: Path) -> None:
    """Walks and questions of one config through the local index and through a real ``serve-search``."""
    from longtracerl.netutil import free_port, wait_http

    ctx = RunContext(cfg, progress=False)
    ds, index, graph = ctx.world_dirs
    world = {"kind": "custom", "docstore": str(ds), "index": str(index), "graph": str(graph or _sample_graph())}
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "longtracerl.cli", "serve-search", "--corpus", str(ds),
                             "--index", str(index), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    digests = []
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=120, proc=proc)
        for tag, w in (("local", world), ("remote", {**world, "search_url": f"http://127.0.0.1:{port}"})):
            c = BuildConfig.model_validate({"out": str(out), "name": f"bytes-{tag}-{cfg.name}", "world": w,
                                           "walk": {"n_chains": BYTES_N}})
            rc = run_build(c, progress=False, stages=["walk", "questions"])
            digests.append(hashlib.sha256(rc.questions.read_bytes()).hexdigest()[:16])
    except Exception as e:  # an older version: say what broke, as the figure
        print(f"local vs serve-search  failed: {type(e).__name__}: {str(e)[:200]}")
        return
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"local vs serve-search  ({BYTES_N} walks, walk + questions stages) questions.jsonl sha256 {digests[0]} vs {digests[1]}: "
          f"{'byte-identical' if digests[0] == digests[1] else 'DIFFERENT'}")


def _sample_graph() -> Path:
    from longtracerl.graph.sample import ensure_sample_graph

    return Path(ensure_sample_graph())


def wiki_world(tmp: Path) -> dict[str, str] | None:
    data = shared_data_dir()
    if data is None:
        print("\n== 2wiki: skipped (../shared/data is not beside this clone)")
        return None
    src = data / "2wiki_dev_500.json"
    cli = [sys.executable, "-m", "longtracerl.cli"]
    if not (tmp / "graph").exists():
        for args in (["corpus", "ingest", str(src), "--format", "context", "--out", str(tmp / "docs")],
                     ["index", "--corpus", str(tmp / "docs")],
                     ["graph", "build", "--mentions", "--docstore", str(tmp / "docs"), "--triples", str(src),
                      "--out", str(tmp / "graph")]):
            subprocess.run(cli + args, check=True, capture_output=True)
    return {"kind": "custom", "docstore": str(tmp / "docs"), "index": str(tmp / "docs" / "index"),
            "graph": str(tmp / "graph")}


def run_world(name: str, cfg: BuildConfig, tmp: Path) -> None:
    if PHASE in ("all", "build"):
        build(name, cfg)
    if PHASE in ("all", "measure"):
        measure(name, cfg)
    if PHASE in ("all", "bytes"):
        byte_equality(cfg, tmp / "bytes")


def main() -> None:
    keep = os.environ.get("BENCH_OUT")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(keep) if keep else Path(d)
        base: dict[str, Any] = {"out": str(tmp / "runs"), "walk": {"n_chains": N}}
        if "sample" in WORLDS:
            run_world("sample world (CIA World Factbook)", BuildConfig.model_validate({**base, "name": "sample"}), tmp)
        world = wiki_world(tmp / "wiki") if "wiki" in WORLDS else None
        if world is not None:
            run_world("2WikiMultihopQA paragraphs (dev 500 contexts, triples + mentions)",
                      BuildConfig.model_validate({**base, "name": "wiki", "world": world}), tmp)


if __name__ == "__main__":
    main()
