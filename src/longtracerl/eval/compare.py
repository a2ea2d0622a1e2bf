"""``eval compare``: several runs side by side (base vs trained, two checkpoints) in one markdown table and
one plot, with per-benchmark deltas against the first model and the five-benchmark average."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from longtracerl.eval.loaders import FIVE
from longtracerl.eval.summary import PAPER_FIVE_BENCH_AVERAGE, pct, write_summary


def load_summaries(dirs: list[Path]) -> list[dict[str, Any]]:
    out = []
    for d in dirs:
        if not (d / "results.jsonl").exists() and not (d / "summary.json").exists():
            raise FileNotFoundError(f"{d}: not an eval run directory (no results.jsonl)")
        s = write_summary(d) if (d / "results.jsonl").exists() else json.loads((d / "summary.json").read_text())
        s["dir"] = str(d)
        out.append(s)
    return out


def table(summaries: list[dict[str, Any]]) -> tuple[list[str], list[str], dict[tuple[str, str], float | None]]:
    """``(labels, benches, cell)``: a cell is one model's mean on one benchmark (the last run given wins)."""
    labels: list[str] = []
    benches: list[str] = []
    cell: dict[tuple[str, str], float | None] = {}
    for s in summaries:
        lab, b = s["label"] or Path(s["dir"]).name, s["bench"]
        if lab not in labels:
            labels.append(lab)
        if b not in benches:
            benches.append(b)
        cell[(lab, b)] = s["overall"]["mean"]
    benches.sort(key=lambda b: (FIVE.index(b) if b in FIVE else len(FIVE), b))
    return labels, benches, cell


def five_average(label: str, cell: dict[tuple[str, str], float | None]) -> float | None:
    vals = [cell.get((label, b)) for b in FIVE]
    return None if any(v is None for v in vals) else sum(v for v in vals if v is not None) / len(FIVE)


def _delta(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{100 * (a - b):+.1f}"


def to_markdown(summaries: list[dict[str, Any]]) -> str:
    labels, benches, cell = table(summaries)
    base = labels[0]
    head = ["benchmark", *labels, *[f"delta {lab} vs {base}" for lab in labels[1:]]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for b in [*benches, "five-benchmark average"]:
        vals = [five_average(lab, cell) if b == "five-benchmark average" else cell.get((lab, b)) for lab in labels]
        deltas = [_delta(v, vals[0]) for v in vals[1:]]
        lines.append("| " + " | ".join([b, *(pct(v) for v in vals), *deltas]) + " |")
    lines += ["", "Scores in %. The five-benchmark average needs all of " + ", ".join(FIVE) + " for a model.",
              "Paper (PAPER.md 5, five-benchmark averages only): " + "; ".join(
                  f"{m}: " + ", ".join(f"{k} {v}" for k, v in r.items()) for m, r in PAPER_FIVE_BENCH_AVERAGE.items())]
    return "\n".join(lines) + "\n"


def plot(summaries: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, benches, cell = table(summaries)
    cols = [*benches, "5-bench avg"]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.4 * len(cols) * max(1, len(labels)) / 2), 4))
    width = 0.8 / max(1, len(labels))
    for i, lab in enumerate(labels):
        vals = [five_average(lab, cell) if c == "5-bench avg" else cell.get((lab, c)) for c in cols]
        xs = [j + i * width for j in range(len(cols))]
        ax.bar(xs, [100 * (v or 0.0) for v in vals], width, label=lab)
    ax.set_xticks([j + width * (len(labels) - 1) / 2 for j in range(len(cols))])
    ax.set_xticklabels(cols, rotation=20, ha="right")
    ax.set_ylabel("score (%)")
    ax.legend(fontsize=8)
    ax.set_title("longtracerl eval compare")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def compare(dirs: list[Path], out: Path) -> dict[str, str]:
    summaries = load_summaries(dirs)
    out.mkdir(parents=True, exist_ok=True)
    md = to_markdown(summaries)
    (out / "compare.md").write_text(md)
    from longtracerl.view import write_eval_compare_html  # side-by-side responses (index.html)

    write_eval_compare_html(list(dirs), out / "index.html")
    plot(summaries, out / "compare.png")
    return {"markdown": str(out / "compare.md"), "plot": str(out / "compare.png"), "html": str(out / "index.html"),
            "table": md}
