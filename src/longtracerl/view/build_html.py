"""``runs/<name>/report/index.html``: the build report and a sample explorer in one offline file.

The page embeds at most ``max_samples`` kept samples and ``max_samples`` rejected items in full (the first
ones in file order) and the text of the documents they reference within a character budget, each document
once and each parsed only when shown (``lazy_layout``); the list shows every item up to ``max_list``. ``longtracerl view`` serves the rest from the JSONL files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from longtracerl.view.model import DOC_CHAR_CAP, DocSource, detail, items, referenced_doc_ids
from longtracerl.view.render import png_data_uri, render, write_atomic
from longtracerl.view.rundata import RunData, docstore_dir, load_run

MAX_SAMPLES = 100
MAX_LIST = 20_000
DOC_BUDGET_CHARS = 12_000_000
STRATEGY_ORDER = ["random", "one_shot_search", "trajectory_random", "trajectory_tiered"]
PLOT_ORDER = ["context_lengths.png", "tier_composition.png", "mention_share.png"]


def _funnel(rd: RunData) -> list[dict[str, Any]]:
    """Funnel rows (stage, count, dropped here with reasons) from stats.json, else from the files."""
    st = rd.stats or {}
    f = st.get("funnel") or {"walks_attempted": (rd.config.get("walk") or {}).get("n_chains"),
                             "chains": len(rd.chains), "questions": len(rd.questions),
                             "solved": len(rd.trajectories), "samples": rd.n_samples or len(rd.samples)}
    reasons: dict[str, dict[str, int]] = st.get("rejected_by_stage") or {}
    if not reasons:
        for r in rd.rejected:
            by = reasons.setdefault(str(r.get("stage", "?")), {})
            by[str(r.get("reason", "?"))] = by.get(str(r.get("reason", "?")), 0) + 1
    drop_stage = {"chains": "walk", "questions": "questions", "solved": "agent", "samples": "assembly"}
    order = ["walks_attempted", "chains", "questions", "solved", "samples"]
    f = {k: f[k] for k in sorted(f, key=lambda k: (order.index(k) if k in order else len(order), k))}
    top = max([v for v in f.values() if isinstance(v, int)] or [1]) or 1
    rows = []
    for k, v in f.items():
        rs = reasons.get(drop_stage.get(k, ""), {})
        rows.append({"stage": k, "count": v, "pct": round(100 * (v or 0) / top, 1),
                     "dropped": sum(rs.values()), "reasons": sorted(rs.items(), key=lambda kv: -kv[1])})
    return rows


def _plots(report_dir: Path) -> list[dict[str, str]]:
    names = [n for n in PLOT_ORDER if (report_dir / n).exists()]
    names += sorted(p.name for p in report_dir.glob("*.png") if p.name not in PLOT_ORDER)
    return [{"name": n, "src": png_data_uri(report_dir / n)} for n in names]


def build_page_data(rd: RunData, docs: DocSource, *, max_samples: int = MAX_SAMPLES, max_list: int = MAX_LIST,
                    doc_budget: int = DOC_BUDGET_CHARS, doc_cap: int = DOC_CHAR_CAP) -> dict[str, Any]:
    """The JSON the page's script reads: item list, embedded details, document texts."""
    all_items = items(rd)
    kept = [i for i in all_items if i["kind"] == "sample"]
    rej = [i for i in all_items if i["kind"] == "rejected"]
    samples_by_id = {it["id"]: s for it, s in zip(kept, rd.samples, strict=True)}
    chosen = kept[:max_samples] + rej[:max_samples]
    details = {it["id"]: detail(rd, it, samples_by_id.get(it["id"])) for it in chosen}
    doc_map: dict[str, Any] = {}
    used = 0
    for det in details.values():
        for doc_id in referenced_doc_ids(det):
            if doc_id in doc_map:
                continue
            d = docs.get(doc_id, cap=doc_cap)
            if d["text"] is not None and used + len(d["text"]) > doc_budget:
                d = {**d, "text": None, "over_budget": True}
            used += len(d["text"] or "")
            doc_map[doc_id] = d
    for det in details.values():
        for cd in (det.get("context") or {}).get("docs", []):
            cd["title"] = (doc_map.get(cd["doc_id"]) or {}).get("title")
    strategies = sorted({i["strategy"] for i in kept if i["strategy"]})
    reasons = sorted({i["reason"] for i in rej})
    return {
        "run": {"name": rd.name, "dir": str(rd.dir)},
        "items": all_items[:max_list],
        "total_items": max(len(all_items), rd.n_samples + rd.n_rejected),
        "total_samples": max(len(kept), rd.n_samples),
        "total_rejected": max(len(rej), rd.n_rejected),
        "embedded_samples": min(len(kept), max_samples),
        "embedded_rejected": min(len(rej), max_samples),
        "details": details,
        "docs": doc_map,
        "doc_cap": doc_cap,
        "strategies": strategies,
        "reasons": reasons,
        "server": False,
    }


def lazy_layout(data: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """(the page data without its heavy parts, blobs): each item's detail and each document's text become
    a ``<script type="application/json">`` of their own that the page parses only when it shows them, and
    the search-result snippets of the trajectories are stored once (one agent sees the same snippet in
    many searches), so the page grows with the text of the samples, not with how often it is referred to."""
    blobs: list[tuple[str, Any]] = []
    snippets: dict[str, int] = {}
    hits: dict[tuple[str, str], int] = {}
    index: dict[str, int] = {}
    for n, (item_id, det) in enumerate(data["details"].items()):
        for step in (det.get("trajectory") or {}).get("steps", []):
            # a search hit as [hit table index, rank, score to 2 places (as shown), snippet index or -1]
            step["results"] = [
                [hits.setdefault((str(h.get("doc_id")), str(h.get("title") or "")), len(hits)), h.get("rank"),
                 None if h.get("score") is None else round(float(h["score"]), 2),
                 snippets.setdefault(h["snippet"], len(snippets)) if h.get("snippet") else -1]
                for h in step.get("results") or []]
        index[item_id] = n
        blobs.append((f"pd-d-{n}", det))
    docs: dict[str, Any] = {}
    for n, (doc_id, d) in enumerate(data["docs"].items()):
        meta = {k: v for k, v in d.items() if k != "text"}
        if d.get("text") is not None:
            meta["t"] = n
            blobs.append((f"pd-t-{n}", d["text"]))
        else:
            meta["text"] = None
        docs[doc_id] = meta
    blobs.append(("pd-snippets", list(snippets)))
    blobs.append(("pd-hits", [list(k) for k in hits]))
    return {**data, "details": {}, "detail_index": index, "docs": docs, "lazy": True}, blobs


def render_build_page(rd: RunData, data: dict[str, Any], *, server: bool = False) -> str:
    st = dict(rd.stats or {})
    if isinstance(st.get("strategies"), dict):
        rank = {s: i for i, s in enumerate(STRATEGY_ORDER)}
        st["strategies"] = dict(sorted(st["strategies"].items(), key=lambda kv: (rank.get(kv[0], 99), kv[0])))
    blobs: list[tuple[str, Any]] = []
    if not server:
        data, blobs = lazy_layout(data)
    return render("build.html.j2", run_name=rd.name, stats=st, funnel=_funnel(rd),
                  settings=st.get("settings_vs_paper") or [], plots=_plots(rd.dir / "report"),
                  problems=rd.problems, data={**data, "server": server}, server=server, blobs=blobs,
                  tiers=["gold", "tier1", "tier2", "fill"])


def write_build_html(run_dir: Path | str, *, max_samples: int = MAX_SAMPLES,
                     out: Path | str | None = None) -> Path:
    """Write ``<run_dir>/report/index.html`` (or ``out``) and return its path; never fails on bad run files."""
    rd = load_run(run_dir, max_rows=max(MAX_LIST, max_samples))  # the page lists at most MAX_LIST rows
    docs = open_docs(rd)
    try:
        data = build_page_data(rd, docs, max_samples=max_samples)
    finally:
        docs.close()
    target = Path(out) if out else Path(run_dir) / "report" / "index.html"
    return write_atomic(target, render_build_page(rd, data))


def open_docs(rd: RunData, docstore: Path | None = None) -> DocSource:
    """The run's documents (``docstore`` overrides config.yaml); a store that cannot be found or opened
    gives a DocSource that says why, and the page renders without texts."""
    if docstore is not None:
        return DocSource(docstore, rd.problems)
    try:
        path = docstore_dir(rd)
    except Exception as e:  # e.g. the sample world cannot be built here
        return DocSource(None, rd.problems, unavailable=f"document store unavailable: {e}")
    return DocSource(path, rd.problems)
