"""The build report: ``report/report.md``, ``report/stats.json`` and PNG plots.

It shows that the data is what PAPER.md describes: context lengths, tier composition per sample, the share
of distractor documents that mention a gold entity per tier and per strategy (all four strategies computed
for the same questions, next to the paper's table), questions kept and dropped with reasons, LLM cost.
``stats.json`` holds no timings (a resumed run writes the same file); timings go to report.md only.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from longtracerl.io import iter_jsonl, iter_lines, iter_records
from longtracerl.pipeline.context import RunContext
from longtracerl.pipeline.report_graph import graph_answer_md, graph_answer_section
from longtracerl.pipeline.report_stream import (
    QuestionLookup,
    RunningMean,
    mean_or_none,
    round_mean,
    sample_heads,
    traj_summary,
)
from longtracerl.pipeline.strategies import (
    PAPER_SHARES,
    PAPER_TIER_SHARES,
    STRATEGIES,
    Mentions,
    compare_strategies,
    shares,
    summarize_strategies,
)
from longtracerl.pipeline.strategies import pct as _pct
from longtracerl.records import Question
from longtracerl.synth.questions.hygiene import KINDS as HYGIENE_KINDS

TIERS = ["gold", "tier1", "tier2", "fill"]
MAX_BARS = 400  # bars of the tier composition plot
TIER_COLORS = {"gold": "#d4a017", "tier1": "#c0392b", "tier2": "#2e86c1", "fill": "#95a5a6"}


def collect_stats(ctx: RunContext, strategy_rows: Iterable[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The report's figures, streaming every stage file once (or twice): memory grows with the ids and a few
    numbers per sample (for the plots), never with the records."""
    from array import array

    chains = sum(1 for _ in iter_lines(ctx.chains))
    questions = QuestionLookup(ctx.questions)
    try:
        trajs = traj_summary(ctx)
        reasons: dict[str, dict[str, int]] = defaultdict(dict)
        n_rejected = 0
        if ctx.rejected.exists():
            counts = Counter((str(o.get("stage", "?")), str(o.get("reason", "?"))) for _, o in iter_jsonl(ctx.rejected))
            for (stage, reason), c in counts.items():
                reasons[stage][reason] = c
            n_rejected = sum(counts.values())
        mentions = Mentions(ctx.docstore)
        tiers_n: dict[str, Any] = {t: array("i") for t in TIERS}
        tiers_tok: dict[str, Any] = {t: array("q") for t in TIERS}
        shares_: dict[str, RunningMean] = defaultdict(RunningMean)
        n_tokens: Any = array("q")
        tokenizer = None
        for s in sample_heads(ctx.samples):
            docs = s.get("docs", [])
            tokenizer = tokenizer if tokenizer is not None else s.get("tokenizer")
            for t in TIERS:
                tiers_n[t].append(sum(1 for d in docs if d["tier"] == t))
                tiers_tok[t].append(sum(d["n_tokens"] for d in docs if d["tier"] == t))
            q = questions.get(s["question_id"])
            if q is not None:
                for k, v in shares([(d["doc_id"], d["tier"]) for d in docs], q, mentions).items():
                    shares_[k].add(v)
            n_tokens.append(int(s.get("prompt_tokens") or s["n_tokens"]))  # as the trainer counts it, vs L
        n_samples = len(n_tokens)
        stats: dict[str, Any] = {
            "counts": {"chains": chains, "questions": len(questions), "trajectories": trajs["n"],
                       "samples": n_samples, "rejected": n_rejected},
            "funnel": {"walks_attempted": ctx.cfg.walk.n_chains, "chains": chains, "questions": len(questions),
                       "solved": trajs["n"], "samples": n_samples},
            "rejected_by_stage": {k: dict(sorted(v.items())) for k, v in sorted(reasons.items())},
            "context_tokens": {"L": ctx.cfg.assembly.max_tokens, "min": min(n_tokens, default=0),
                               "mean": round_mean(n_tokens, 1), "max": max(n_tokens, default=0),
                               "tokenizer": tokenizer},
            "tiers_mean_docs": {t: round_mean(v, 2) for t, v in tiers_n.items()},
            "tiers_mean_tokens": {t: round_mean(v, 1) for t, v in tiers_tok.items()},
            "mention_share_pct": {
                "strategy": ctx.cfg.distractors.strategy,
                "all_distractors": _pct(shares_["all"].value()),
                **{t: _pct(shares_[t].value()) for t in ("tier1", "tier2", "fill") if shares_[t].n},
                "paper_tiered": PAPER_SHARES["trajectory_tiered"], "paper_tier1": PAPER_TIER_SHARES["tier1"],
                "paper_tier2": PAPER_TIER_SHARES["tier2"],
            },
        }
        from longtracerl.corpus.indexes import describe_search

        stats["search"] = describe_search(ctx.search)  # which engine and analyzer the agent searched with
        stats["questions_quality"] = question_quality(ctx, trajs, chains, stats["rejected_by_stage"])
        if ctx.cfg.distractors.compare_all and trajs["n"]:
            stats["strategies"] = (summarize_strategies(strategy_rows) if strategy_rows is not None
                                   else compare_strategies(ctx, questions, mentions))
    finally:
        questions.close()
    stats["_plot"] = {"n_tokens": n_tokens, "tiers_tok": tiers_tok}
    return stats


QUESTION_CHECKS = ("hop_ambiguous", "reader_not_first", "shortcut", "off_chain", "no_clue_sentence",
                   "seed_not_unique", "jump_cut_too_short", "duplicate_chain", "repeated_tail", "answer_repeated",
                   "hub_repeated", *(f"clue_{k}" for k in HYGIENE_KINDS))


def question_quality(ctx: RunContext, trajs: dict[str, Any], n_chains: int,
                     rejected: dict[str, dict[str, int]]) -> dict[str, Any]:
    """Are the questions answerable? Pinned hops, the named rejects, the solver's rate and effort, examples.

    Streams questions.jsonl (and reads chains.jsonl only for the chains of the five examples)."""
    from longtracerl.records import Chain

    n_q = pinned = with_shortcut = read_hops = read_first = n_entity = 0
    tails: set[tuple[str, ...]] = set()  # distinct last-two-hop paths (the last three gold pages)
    hubs: Counter[str] = Counter()  # questions through each middle page
    jumps: Counter[str] = Counter()
    clue_kinds: Counter[str] = Counter()
    answers: set[str] = set()  # one short string per distinct answer, like the ids
    solved = trajs["solved"]
    picked: list[Question] = []
    for q in iter_records(ctx.questions, Question):
        n_q += 1
        pinned += "hop_unique" in q.validation.get("passed", [])
        with_shortcut += bool(q.validation.get("shortcut"))
        jumps[str(q.validation.get("jump_mode", "none"))] += 1
        clue_kinds.update(q.validation.get("clue_kinds", []) or [])
        answers.add(q.answer.lower())
        ranks = [r for r in q.validation.get("reader_ranks", []) or [] if r is not None]
        read_hops += len(ranks)
        read_first += sum(1 for r in ranks if r == 1)
        n_entity += len(re.findall(r"\bentit(?:y|ies)\b", q.question, re.I))
        tails.add(tuple(q.gold_doc_ids[-3:]))
        hubs.update(list(dict.fromkeys(q.gold_doc_ids[1:-1])))
        if q.question_id in solved and len(picked) < 5:
            picked.append(q)
    want = {q.chain_id for q in picked}
    chains = {c.chain_id: c for c in iter_records(ctx.chains, Chain) if c.chain_id in want} if want else {}
    examples = []
    for q in picked:
        c = chains.get(q.chain_id)
        examples.append({"question_id": q.question_id, "question": q.question, "answer": q.answer,
                         "chain": [{"title": h.title, "relation": h.relation, "jumped": h.jumped}
                                   for h in (c.hops if c else [])],
                         "hop_clues": q.hop_clues})
    qrej = rejected.get("questions", {})
    arej = rejected.get("agent", {})
    n_walks = ctx.cfg.walk.n_chains
    n_t = trajs["n"]
    walk_runs = ctx.manifest().get("stages", {}).get("walk", {}).get("runs") or [{}]
    agents = trajs["agents"]
    return {
        "walks_to_chains_pct": _pct(n_chains / n_walks) if n_walks else None,
        "chains_to_questions_pct": _pct(n_q / n_chains) if n_chains else None,
        "questions_to_solved_pct": _pct(n_t / n_q) if n_q else None,
        "answerable_by_construction_pct": _pct(pinned / n_q) if n_q else None,
        "rejects": {k: qrej.get(k, 0) for k in QUESTION_CHECKS},
        "kept_with_shortcut": with_shortcut,
        "shortcut_policy": ctx.cfg.questions.shortcut,
        "jumps": dict(jumps),
        # how hops are pinned: hop = a clue among the neighbours, unique = seed/restart clue, relation = "its X",
        # type = type words no other neighbour shares ("the film director its page mentions")
        "clue_kinds": dict(clue_kinds),
        "distinct_answers_pct": _pct(len(answers) / n_q) if n_q else None,
        "distinct_tails_pct": _pct(len(tails) / n_q) if n_q else None,
        "busiest_middle_page": hubs.most_common(1)[0][1] if hubs else 0,  # questions through the most-used one
        # the walk stage's re-walks of repeated walks (graph.walk_variety) and what it rejected as repeats
        "walk_variety": walk_runs[-1].get("variety"),
        "walk_repeats_rejected": {k: v for k, v in rejected.get("walk", {}).items()
                                  if k in ("duplicate_chain", "repeated_tail")},
        # the second reader (the engine's BM25 over the previous entity's neighbours) on kept questions' hops
        "reader_first_pct": _pct(read_first / read_hops) if read_hops else None,
        "reader_hops": read_hops,
        "entity_per_question": round(n_entity / n_q, 2) if n_q else None,
        "agent": agents[0] if len(agents) == 1 else agents,
        "solve_rate_pct": _pct(n_t / n_q) if n_q else None,
        "agent_rejects": arej,
        "mean_searches": mean_or_none(trajs["searches"]),
        "mean_opens": mean_or_none(trajs["opens"]),
        "examples": examples,
    }


def _usage(ctx: RunContext, n_samples: int) -> dict[str, Any]:
    calls = prompt = completion = 0
    for st in ctx.manifest().get("stages", {}).values():
        for run in st.get("runs", []):
            u = run.get("usage") or {}
            calls += int(u.get("calls", 0))
            prompt += int(u.get("prompt_tokens", 0))
            completion += int(u.get("completion_tokens", 0))
    def per(x: int) -> float | None:
        return round(x / n_samples, 2) if n_samples else None

    return {"llm_calls": calls, "prompt_tokens": prompt, "completion_tokens": completion,
            "calls_per_sample": per(calls), "tokens_per_sample": per(prompt + completion)}


def tier_bars(tiers_tok: dict[str, Sequence[int]]) -> tuple[dict[str, list[int]], int]:
    """(tokens per tier per bar, samples per bar): one bar per sample up to ``MAX_BARS`` samples, beyond that
    one bar per run of consecutive samples (their mean), so a 100,000-sample plot stays a few hundred bars."""
    n = len(next(iter(tiers_tok.values()), []))
    per_bar = -(-n // MAX_BARS) if n > MAX_BARS else 1
    if per_bar == 1:
        return {t: list(v) for t, v in tiers_tok.items()}, 1
    return {t: [round(sum(v[i:i + per_bar]) / len(v[i:i + per_bar])) for i in range(0, n, per_bar)]
            for t, v in tiers_tok.items()}, per_bar


def _plots(out: Path, stats: dict[str, Any]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    n_tokens = stats["_plot"]["n_tokens"]
    L = stats["context_tokens"]["L"]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist(n_tokens, bins=min(30, max(5, len(n_tokens))), color="#2e86c1", edgecolor="white")
    ax.axvline(L, color="#c0392b", linestyle="--", label=f"L = {L:,}")
    ax.set_xlabel("prompt length (tokens, chat template included)")
    ax.set_ylabel("samples")
    ax.set_title(f"Context length of {len(n_tokens)} samples")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "context_lengths.png", dpi=110)
    plt.close(fig)
    files.append("context_lengths.png")

    tok, per_bar = tier_bars(stats["_plot"]["tiers_tok"])
    n = len(next(iter(tok.values()), []))
    fig, ax = plt.subplots(figsize=(max(7, min(16, 0.25 * n + 3)), 4))
    bottom = [0] * n
    for t in TIERS:
        vals = tok[t]
        if vals and any(vals):
            ax.bar(range(n), vals, bottom=bottom, color=TIER_COLORS[t], label=t, width=0.85)
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    ax.axhline(L, color="black", linestyle=":", linewidth=1, label="L")
    ax.set_xlabel("sample" if per_bar == 1 else f"samples ({per_bar} per bar, their mean)")
    ax.set_ylabel("tokens")
    ax.set_title("Tier composition per sample (tokens)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "tier_composition.png", dpi=110)
    plt.close(fig)
    files.append("tier_composition.png")

    strat = stats.get("strategies")
    if strat:
        labels = STRATEGIES + ["tier1", "tier2"]
        tiered = strat["trajectory_tiered"]
        ours = [strat[s]["share_pct"] or 0 for s in STRATEGIES] + [tiered.get("tier1_share_pct") or 0,
                                                                   tiered.get("tier2_share_pct") or 0]
        paper = [PAPER_SHARES[s] for s in STRATEGIES] + [PAPER_TIER_SHARES["tier1"], PAPER_TIER_SHARES["tier2"]]
        fig, ax = plt.subplots(figsize=(8, 4))
        x = range(len(labels))
        ax.bar([i - 0.2 for i in x], ours, width=0.4, label="this build", color="#2e86c1")
        ax.bar([i + 0.2 for i in x], paper, width=0.4, label="paper (KILT)", color="#bdc3c7")
        for i, v in enumerate(ours):
            ax.text(i - 0.2, v + 1, f"{v:.0f}", ha="center", fontsize=8)
        ax.set_xticks(list(x))
        ax.set_xticklabels([lbl.replace("_", "\n") for lbl in labels], fontsize=8)
        ax.set_ylabel("% distractors mentioning a gold entity")
        ax.set_title("Distractor confusability by strategy and tier")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "mention_share.png", dpi=110)
        plt.close(fig)
        files.append("mention_share.png")
    return files


def _md(ctx: RunContext, stats: dict[str, Any], plots: list[str], timings: dict[str, float]) -> str:
    from longtracerl.presets import table_markdown

    c, t = stats["counts"], stats["context_tokens"]
    lines = [f"# Build report: {ctx.cfg.name}", "", f"## Settings vs the paper (preset: {ctx.cfg.preset})", "",
             table_markdown(stats["settings_vs_paper"]),
             f"{c['samples']} samples from {stats['funnel']['walks_attempted']} walks "
             f"({c['chains']} chains, {c['questions']} questions, {c['trajectories']} solved).", "",
             "## Funnel and drops", "", "| stage | dropped | reasons |", "|---|---|---|"]
    for stage, rs in stats["rejected_by_stage"].items():
        lines.append(f"| {stage} | {sum(rs.values())} | " + ", ".join(f"{k}: {v}" for k, v in rs.items()) + " |")
    lines += ["", "## Search engine", "", search_line(stats.get("search") or {})]
    lines += ["", "## Contexts", "",
              f"L = {t['L']:,} tokens ({t['tokenizer']}); prompt length with the chat template: min {t['min']:,}, "
              f"mean {t['mean']:,}, max {t['max']:,}.", "",
              "| tier | mean docs | mean tokens |", "|---|---|---|"]
    for tier in TIERS:
        lines.append(f"| {tier} | {stats['tiers_mean_docs'][tier]} | {stats['tiers_mean_tokens'][tier]:,} |")
    m = stats["mention_share_pct"]
    lines += ["", "## Distractors that mention a gold entity", "",
              f"In the built samples ({m['strategy']}): all distractors {m['all_distractors']}%, "
              + ", ".join(f"{k} {m[k]}%" for k in ("tier1", "tier2", "fill") if k in m)
              + f" (paper: tiered {m['paper_tiered']}%, Tier-1 {m['paper_tier1']}%, Tier-2 ~{m['paper_tier2']}%).", ""]
    if "strategies" in stats:
        lines += ["Every strategy on the same questions (same L, no random fill):", "",
                  "| strategy | this build % | paper % | mean distractors |", "|---|---|---|---|"]
        for s, v in stats["strategies"].items():
            lines.append(f"| {s} | {v['share_pct']} | {v['paper_pct']} | {v['mean_distractors']} |")
        lines += ["", "The paper's figures are for KILT Wikipedia (millions of pages). In a small, densely linked "
                  "corpus such as the bundled sample world (a few hundred country pages that name their "
                  "neighbours and partners) even random pages often mention a gold entity, so compare the "
                  "ordering of the strategies (random < one-shot search < trajectory) rather than the absolute "
                  "shares."]
    qq = stats.get("questions_quality")
    if qq:
        lines += ["", "## Are the questions answerable?", "",
                  f"Walks -> chains {qq['walks_to_chains_pct']}%, chains -> questions {qq['chains_to_questions_pct']}%, "
                  f"questions solved by the agent ({qq['agent']}) {qq['solve_rate_pct']}% "
                  f"(mean {qq['mean_searches']} searches, {qq['mean_opens']} opens per kept trajectory).", "",
                  f"Answerable by construction (every hop pinned by a clue checked against the previous entity's "
                  f"neighbours, by a relation with one target or by type words no other neighbour shares, seed "
                  f"and jumps unique in the corpus): "
                  f"{qq['answerable_by_construction_pct']}% of kept questions. Hops pinned by: "
                  f"{qq.get('clue_kinds', {})}. Second reader (the search engine's BM25 ranking the previous "
                  f"entity's neighbours against each clue): target first on {qq.get('reader_first_pct')}% of "
                  f"{qq.get('reader_hops')} hops. \"entity\" per question: {qq.get('entity_per_question')}. "
                  f"Distinct answers: {qq.get('distinct_answers_pct')}% of questions; distinct last-two-hop paths: "
                  f"{qq.get('distinct_tails_pct')}%; the most-used middle page is in {qq.get('busiest_middle_page')} "
                  f"questions. Walks re-walked off pages already used (walk stage): {qq.get('walk_variety')}; "
                  f"rejected there as repeats: {qq.get('walk_repeats_rejected')}. "
                  f"Jumps: {qq['jumps']}. Shortcut policy: {qq['shortcut_policy']} "
                  f"({qq['kept_with_shortcut']} kept with a shortcut).", "",
                  "Question rejects (`clue_*`: clue hygiene; `reader_not_first`: the second reader):", "",
                  "| question reject | count |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in qq["rejects"].items()]
        lines += ["", "Examples (kept and solved):", ""]
        for ex in qq["examples"]:
            path = " -> ".join(f"{h['title']}" + (" [jump]" if h["jumped"] else f" ({h['relation']})" if h["relation"]
                                                     else "") for h in ex["chain"])
            lines += [f"- **Q:** {ex['question']}", f"  **A:** {ex['answer']}  ", f"  chain: {path}"]
    lines += graph_answer_md(stats.get("names_not_words"))
    u = stats["llm_usage"]
    lines += ["", "## Cost", "", f"LLM calls {u['llm_calls']} (prompt {u['prompt_tokens']:,} + completion "
              f"{u['completion_tokens']:,} tokens); per kept sample: {u['calls_per_sample']} calls, "
              f"{u['tokens_per_sample']} tokens.", "", "Stage wall-clock (s, last run of each): "
              + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()), ""]
    lines += _execution_md(ctx)
    lines += ["## Plots", ""]
    lines += [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def search_line(s: dict[str, Any]) -> str:
    """One sentence saying which backend, analyzer and embedding model the agent's search used."""
    parts = [f"The agent searched with the **{s.get('backend', '?')}** backend ({s.get('engine', '?')})"]
    if "analyzer" in s:
        parts.append(f"analyzer `{s['analyzer']}`, title boost {s.get('title_boost')}")
    if "embedding_model" in s:
        parts.append(f"embeddings `{s['embedding_model']}` ({s.get('embedding_dim')} dims)")
    if "dense_weight" in s:
        parts.append(f"dense rank weight {s['dense_weight']}")
    if "n_docs" in s:
        parts.append(f"{s['n_docs']:,} documents")
    return ", ".join(parts) + "."


def _execution_md(ctx: RunContext) -> list[str]:
    """Where the work ran (executor, cluster, how workers read the world) and per-endpoint LLM counts."""
    from longtracerl.llm.pool import merge_endpoint_stats

    ex = ctx.cfg.executor
    lines = ["## Execution", ""]
    runs = [r for st in ctx.manifest().get("stages", {}).values() for r in st.get("runs", [])]
    cluster = next((r["cluster"] for r in reversed(runs) if isinstance(r.get("cluster"), dict)), None)
    if ex.kind == "ray" and cluster:
        lines.append(f"Executor: Ray at {cluster.get('address')} ({cluster.get('nodes')} nodes, "
                     f"{cluster.get('cpus')} CPUs; code: {cluster.get('code')}); batches of up to "
                     f"{ex.ray.batch_size} items, results returned through the object store.")
    else:
        lines.append(f"Executor: {ex.kind}.")
    try:
        access = ctx.world_access()
        lines += ["", "World data on the workers: " + "; ".join(f"{k}: {v}" for k, v in access.items()) + "."]
    except ValueError:
        pass
    endpoints: dict[str, dict[str, Any]] = {}
    for r in runs:
        merge_endpoint_stats(endpoints, r.get("endpoints") or {})
    if endpoints:
        lines += ["", "| LLM endpoint | requests | ok | failed | times left out | peak in flight |",
                  "|---|---|---|---|---|---|"]
        for name, e in sorted(endpoints.items()):
            lines.append(f"| {name} | {e.get('requests', 0)} | {e.get('ok', 0)} | {e.get('failed', 0)} | "
                         f"{e.get('trips', 0)} | {e.get('max_in_flight', 0)} |")
    return [*lines, ""]


def write_report(ctx: RunContext, strategy_rows: Iterable[dict[str, Any]] | None = None) -> dict[str, Any]:
    """report.md, stats.json and plots; ``strategy_rows`` are the comparison's rows when computed elsewhere (Ray)."""
    out = ctx.dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    from longtracerl.presets import NOT_STATED, settings_table

    stats = collect_stats(ctx, strategy_rows)
    stats["settings_vs_paper"] = settings_table(build=ctx.cfg, tokenizer_name=stats["context_tokens"]["tokenizer"])
    source = ctx.manifest().get("source")
    if source:  # assembled from another build's chains, questions and trajectories (``assemble --from``)
        stats["source_build"] = source
        stats["settings_vs_paper"].insert(0, {"setting": "chains, questions, trajectories from",
                                              "ours": f"{source['dir']} (assemble --from)",
                                              "paper": NOT_STATED, "differs": False})
    stats["llm_usage"] = _usage(ctx, stats["counts"]["samples"])
    stats["names_not_words"] = graph_answer_section(ctx, stats["rejected_by_stage"])
    plots = _plots(out, stats)
    stats.pop("_plot")
    timings = {k: float(v["runs"][-1].get("seconds", 0.0)) for k, v in ctx.manifest().get("stages", {}).items()
               if v.get("runs")}
    (out / "stats.json").write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n")
    (out / "report.md").write_text(_md(ctx, stats, plots, timings))
    from longtracerl.view import write_build_html

    html = write_build_html(ctx.dir)
    return {"report": str(out / "report.md"), "plots": plots, "html": str(html)}
