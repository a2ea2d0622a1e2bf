"""Summary of an eval run: overall and per split, mean with a bootstrap 95% interval, avg@k and pass@k,
errors apart, and what the paper reports beside ours (PAPER.md 5 gives only five-benchmark averages)."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from longtracerl.eval.bench_rules import bootstrap_ci
from longtracerl.io.jsonl import iter_jsonl

# PAPER.md 5: the five-benchmark averages; no per-benchmark figure is given there.
PAPER_FIVE_BENCH_AVERAGE: dict[str, dict[str, float]] = {
    "Qwen3-4B-Thinking": {"base": 53.3, "LongTraceRL": 59.0, "LongRLVR (best baseline)": 56.5,
                          "LongTraceRL without rubric reward": 53.7},
    "DeepSeek-8B": {"base": 42.7, "LongTraceRL": 43.8},
    "Qwen3-30B": {"base": 60.5, "LongTraceRL": 63.7},
}
PAPER_NOTE = ("PAPER.md gives only the average over the five benchmarks (AA-LCR, MRCR, FRAMES, LongBench v2, "
              "LongReason); no per-benchmark or per-split number, and no MRCR subset, FRAMES context or "
              "LongReason split. Compare your five-benchmark average (eval compare) with those.")


def _stats(item_scores: dict[str, list[float]]) -> dict[str, Any]:
    means = [sum(v) / len(v) for v in item_scores.values() if v]
    best = [max(v) for v in item_scores.values() if v]
    if not means:
        return {"n_items": 0, "mean": None, "ci95": None, "pass_at_k": None}
    lo, hi = bootstrap_ci(means)
    return {"n_items": len(means), "mean": sum(means) / len(means), "ci95": [lo, hi],
            "pass_at_k": sum(best) / len(best)}


def _labels(key: str, value: str) -> list[str]:
    if key == "reasoning_types":  # FRAMES items carry several types: "Numerical reasoning | Temporal reasoning"
        parts = [p.strip() for p in value.split("|") if p.strip()]
        return parts or ["(none)"]
    return [value or "(none)"]


def summarize(run_dir: Path | str) -> dict[str, Any]:
    d = Path(run_dir)
    rows = [obj for _, obj in iter_jsonl(d / "results.jsonl")] if (d / "results.jsonl").exists() else []
    cfg: dict[str, Any] = {}
    if (d / "config.yaml").exists():
        import yaml

        cfg = yaml.safe_load((d / "config.yaml").read_text()) or {}
    scores: dict[str, list[float]] = defaultdict(list)
    splits: dict[str, dict[str, str]] = {}
    errors: dict[str, int] = defaultdict(int)
    samples: dict[str, int] = defaultdict(int)
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "calls": 0}
    truncated = 0
    for r in rows:
        splits[r["item_id"]] = r.get("split") or {}
        samples[r["item_id"]] += 1
        if r.get("error"):
            errors[str(r["error"]).split(":", 1)[0]] += 1
            continue
        scores[r["item_id"]].append(float(r["score"]))
        # cut at --max-tokens (finish_reason=length): scored 0 without a judge call, and counted here apart
        truncated += bool(r.get("truncated") or r.get("finish_reason") == "length")
        for k in usage:
            usage[k] += int((r.get("usage") or {}).get(k) or 0)
    overall = _stats(scores)
    by_split: dict[str, dict[str, Any]] = {}
    keys = sorted({k for s in splits.values() for k in s})
    bench = rows[0]["bench"] if rows else cfg.get("bench", "")
    if bench == "mrcr":
        for iid, s in splits.items():
            s = dict(s)
            s["needles x bin"] = f"{s.get('needles')} needles, {s.get('bin')}"
            splits[iid] = s
        keys.append("needles x bin")
    for key in keys:
        groups: dict[str, dict[str, list[float]]] = defaultdict(dict)
        for iid, s in splits.items():
            if key in s:
                for lab in _labels(key, s[key]):
                    groups[lab][iid] = scores.get(iid, [])
        by_split[key] = {lab: _stats(g) for lab, g in sorted(groups.items())}
    n_samples = max(samples.values()) if samples else 0
    return {
        "bench": bench, "label": cfg.get("label") or cfg.get("model") or ("bundled" if cfg.get("llm") == "local" else "model"),
        "model": cfg.get("model") or ("bundled" if cfg.get("llm") == "local" else ""),
        "scale": "fraction (0-1); percentages in summary.md", "n_samples": n_samples,
        "rows": len(rows), "scored_rows": sum(len(v) for v in scores.values()),
        "error_rows": sum(errors.values()), "errors_by_kind": dict(errors), "truncated_rows": truncated,
        "avg_at_k": overall["mean"], "overall": overall, "by_split": by_split, "usage": usage,
        "paper": {"this_benchmark": None, "note": PAPER_NOTE, "five_benchmark_average": PAPER_FIVE_BENCH_AVERAGE},
    }


def pct(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def _row(name: str, st: dict[str, Any]) -> str:
    ci = st.get("ci95")
    ci_s = f"[{pct(ci[0])}, {pct(ci[1])}]" if ci else "-"
    return f"| {name} | {st['n_items']} | {pct(st['mean'])} | {ci_s} | {pct(st['pass_at_k'])} |"


def to_markdown(s: dict[str, Any]) -> str:
    lines = [f"# Eval: {s['bench']} ({s['label']})", "",
             f"{s['rows']} rows ({s['n_samples']} sample(s) per item), {s['scored_rows']} scored, "
             f"{s['error_rows']} errors (reported apart, not counted as wrong), {s.get('truncated_rows', 0)} "
             "truncated at --max-tokens (scored 0, no judge call)", "",
             "| split | items | mean (avg@k, %) | 95% CI (bootstrap) | pass@k (%) |", "|---|---|---|---|---|",
             _row("overall", s["overall"])]
    for key, groups in s["by_split"].items():
        for lab, st in groups.items():
            lines.append(_row(f"{key}={lab}", st))
    if s["errors_by_kind"]:
        lines += ["", "Errors: " + ", ".join(f"{k} x{v}" for k, v in sorted(s["errors_by_kind"].items()))]
    lines += ["", f"Paper: {s['paper']['note']}", "", "| model | run | five-benchmark average |", "|---|---|---|"]
    for model, runs in PAPER_FIVE_BENCH_AVERAGE.items():
        for run, v in runs.items():
            lines.append(f"| {model} | {run} | {v} |")
    return "\n".join(lines) + "\n"


def write_summary(run_dir: Path | str) -> dict[str, Any]:
    d = Path(run_dir)
    s = summarize(d)
    (d / "summary.json").write_text(json.dumps(s, indent=2, ensure_ascii=False))
    (d / "summary.md").write_text(to_markdown(s))
    from longtracerl.view import write_eval_html  # the browsable page of the same rows (index.html)

    write_eval_html(d)
    return s
