"""``runs/eval/<name>/index.html``: every scored item of an eval run, and side-by-side comparisons of runs.

Reads ``results.jsonl`` (one row per item x sample; fields of CONTRACTS.md 3, plus ``question``, ``gold``
and ``finish_reason`` when the eval writes them), ``summary.json`` and
``config.yaml`` when present. Rows are grouped by benchmark and split; long texts are cut to
``TEXT_CAP`` characters with a note, and at most ``MAX_ROWS`` rows are rendered (the page says so).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from statistics import mean
from typing import Any

from longtracerl.view.render import render, write_atomic
from longtracerl.view.rundata import iter_rows, read_json, read_yaml

TEXT_CAP = 20_000
MAX_ROWS = 5_000


def _cap(s: Any, cap: int = TEXT_CAP) -> dict[str, Any]:
    text = "" if s is None else str(s)
    return {"text": text[:cap], "n": len(text), "cut": len(text) > cap, "none": s is None}


def split_key(split: Any) -> str:
    if isinstance(split, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(split.items())) or "all"
    return "all" if split in (None, "") else str(split)


def _row(o: dict[str, Any]) -> dict[str, Any]:
    score = o.get("score")
    return {"item_id": str(o.get("item_id", "?")), "sample_index": o.get("sample_index", 0),
            "score": score if isinstance(score, int | float) and not isinstance(score, bool) else None,
            "extracted": _cap(o.get("extracted"), 2000), "response": _cap(o.get("response")),
            "prompt_head": _cap(o.get("prompt_head"), 4000), "judge_reply": _cap(o.get("judge_reply"), 4000),
            "question": _cap(o.get("question"), 2000), "gold": _cap(_gold_text(o.get("gold")), 2000),
            "finish_reason": o.get("finish_reason"),
            "error": o.get("error"), "prompt_tokens": o.get("prompt_tokens"),
            "reasoning_chars": o.get("reasoning_chars"), "usage": o.get("usage") or {}}


def _gold_text(gold: Any) -> str | None:
    """The reference answer as text: a string, a list of accepted answers, or any JSON value."""
    if gold is None or isinstance(gold, str):
        return gold
    if isinstance(gold, list) and all(isinstance(g, str) for g in gold):
        return " | ".join(gold)
    return json.dumps(gold, ensure_ascii=False)


def load_eval_run(run_dir: Path | str) -> dict[str, Any]:
    """Rows grouped as ``{(bench, split): [row, ...]}`` plus summary, config and problems found."""
    d = Path(run_dir)
    problems: list[str] = []
    if not (d / "results.jsonl").exists():
        problems.append("results.jsonl is missing (the eval has not written any result yet, or was stopped)")
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    n = 0
    for _, _, o in iter_rows(d / "results.jsonl", problems):
        n += 1
        if n > MAX_ROWS:
            continue
        groups[(str(o.get("bench", "?")), split_key(o.get("split")))].append(_row(o))
    if n > MAX_ROWS:
        problems.append(f"results.jsonl has {n:,} rows; this page shows the first {MAX_ROWS:,}")
    summary = read_json(d / "summary.json", problems)
    if summary is None and (d / "results.jsonl").exists():
        problems.append("summary.json is missing (the eval is still running or was stopped)")
    return {"dir": d, "name": d.name, "groups": dict(sorted(groups.items())), "n_rows": n, "summary": summary,
            "config": read_yaml(d / "config.yaml", problems), "problems": problems}


def _group_stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    scores = [r["score"] for r in rows if r["score"] is not None]
    return {"rows": len(rows), "items": len({r["item_id"] for r in rows}), "scored": len(scores),
            "mean": round(mean(scores), 4) if scores else None, "errors": sum(1 for r in rows if r["error"])}


def render_eval_page(run_dir: Path | str) -> str:
    """The eval page of a run as it is on disk now (``longtracerl view`` serves this live)."""
    run = load_eval_run(run_dir)
    groups = [{"bench": b, "split": s, "rows": rows, "stats": _group_stats(rows)}
              for (b, s), rows in run["groups"].items()]
    return render("eval.html.j2", run=run, groups=groups, summary_rows=_summary_rows(run["summary"]))


def write_eval_html(run_dir: Path | str, *, out: Path | str | None = None) -> Path:
    """Write ``<run_dir>/index.html`` (or ``out``); a half-written run renders with what it has."""
    return write_atomic(Path(out) if out else Path(run_dir) / "index.html", render_eval_page(run_dir))


def _summary_rows(summary: Any) -> list[tuple[str, str]]:
    """A flat view of summary.json whatever its nesting: ``("a.b.c", value)`` pairs."""
    out: list[tuple[str, str]] = []

    def walk(prefix: str, v: Any) -> None:
        if isinstance(v, dict) and len(out) < 500:
            for k, x in v.items():
                walk(f"{prefix}.{k}" if prefix else str(k), x)
        elif isinstance(v, list) and len(out) < 500 and all(isinstance(x, dict) for x in v):
            for i, x in enumerate(v):
                walk(f"{prefix}[{i}]", x)
        else:
            out.append((prefix, str(v)))

    if summary is not None:
        walk("", summary)
    return out


def write_eval_compare_html(run_dirs: list[Path | str], out: Path | str | None = None) -> Path:
    """Side-by-side responses of several eval runs, item by item (same bench, split, item and sample).

    Default output: ``<parent of the first run>/compare-<name1>-vs-<name2>.../index.html``.
    """
    if len(run_dirs) < 2:
        raise ValueError("compare needs at least two eval run directories")
    runs = [load_eval_run(d) for d in run_dirs]
    names = [r["name"] for r in runs]
    keys: dict[tuple[str, str], dict[tuple[str, Any], list[dict[str, Any] | None]]] = {}
    for i, r in enumerate(runs):
        for g, rows in r["groups"].items():
            for row in rows:
                slot = keys.setdefault(g, {}).setdefault((row["item_id"], row["sample_index"]), [None] * len(runs))
                slot[i] = row
    groups = []
    for (bench, split), items in sorted(keys.items()):
        per_run = []
        for i in range(len(runs)):
            cells = [v[i] for v in items.values()]
            scores = [c["score"] for c in cells if c is not None and c["score"] is not None]
            per_run.append(round(mean(scores), 4) if scores else None)
        rows = [{"item_id": k[0], "sample_index": k[1], "cells": v,
                 "prompt_head": next(c["prompt_head"] for c in v if c is not None),
                 "gold": next(c["gold"] for c in v if c is not None),
                 "differs": len({None if c is None else c["score"] for c in v}) > 1}
                for k, v in sorted(items.items(), key=lambda kv: (kv[0][0], str(kv[0][1])))]
        groups.append({"bench": bench, "split": split, "means": per_run, "rows": rows})
    problems = [f"{r['name']}: {p}" for r in runs for p in r["problems"]]
    target = Path(out) if out else Path(run_dirs[0]).parent / ("compare-" + "-vs-".join(names)) / "index.html"
    return write_atomic(target, render("compare.html.j2", names=names, groups=groups, problems=problems))
