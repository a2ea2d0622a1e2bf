"""Contamination check: n-gram overlap (13-grams by default) between a build's questions, answers and gold
pages and a benchmark's questions and answers, plus the Wikipedia titles both use (FRAMES links vs the
build's gold pages); optionally a filtered export without the overlapping samples."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from longtracerl.eval.items import EvalItem

_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.casefold())


def ngrams(text: str, n: int) -> Iterator[tuple[str, ...]]:
    t = tokens(text)
    for i in range(len(t) - n + 1):
        yield tuple(t[i:i + n])


def norm_title(t: str) -> str:
    return " ".join(t.replace("_", " ").split()).casefold()


def build_inputs(build_dir: Path) -> tuple[list[dict[str, Any]], Any]:
    """The build's questions (Question rows) and its DocStore (for gold page texts), opened from config.yaml."""
    import yaml

    from longtracerl.config import BuildConfig
    from longtracerl.io.jsonl import iter_jsonl
    from longtracerl.pipeline.context import RunContext

    qpath = build_dir / "questions.jsonl"
    if not qpath.exists():
        raise FileNotFoundError(f"{build_dir}: no questions.jsonl (is it a `longtracerl build` run directory?)")
    questions = [obj for _, obj in iter_jsonl(qpath)]
    raw = yaml.safe_load((build_dir / "config.yaml").read_text()) if (build_dir / "config.yaml").exists() else {}
    fields = set(BuildConfig.model_fields)
    cfg = BuildConfig.model_validate({k: v for k, v in (raw or {}).items() if k in fields})
    cfg = cfg.model_copy(update={"out": str(build_dir.parent), "name": build_dir.name})
    return questions, RunContext(cfg, progress=False).docstore


def overlap(questions: list[dict[str, Any]], docstore: Any, items: Iterable[EvalItem], *, n: int = 13,
            gold_pages: bool = True) -> dict[str, Any]:
    """Which build questions share an n-gram with which benchmark items, and in which field."""
    index: dict[tuple[str, ...], set[str]] = defaultdict(set)
    bench_titles: dict[str, set[str]] = defaultdict(set)
    bench_answers: dict[str, set[str]] = defaultdict(set)
    n_items = 0
    bench = ""
    for it in items:
        n_items += 1
        bench = it.bench
        for g in ngrams(f"{it.question}\n{it.fields.get('question', '')}", n):
            index[g].add(it.item_id)
        for g in ngrams(it.gold, n):
            index[g].add(it.item_id)
        bench_answers[" ".join(tokens(it.gold))].add(it.item_id)
        for url in it.meta.get("links", []):
            from longtracerl.eval.loaders.frames import link_title

            bench_titles[norm_title(link_title(url))].add(it.item_id)
    flagged: list[dict[str, Any]] = []
    shared_titles: dict[str, list[str]] = {}
    answer_matches = 0
    for q in questions:
        hits: dict[str, set[str]] = defaultdict(set)
        fields = {"question": q.get("question", ""), "answer": q.get("answer", "")}
        if gold_pages and docstore is not None:
            fields["gold_pages"] = "\n".join((docstore.get(d).text if docstore.get(d) else "") for d in q.get("gold_doc_ids", []))
        for name, text in fields.items():
            for g in ngrams(text, n):
                if g in index:
                    hits[name] |= index[g]
        if bench_answers.get(" ".join(tokens(q.get("answer", "")))):
            answer_matches += 1
        titles = set(q.get("gold_entities", []))
        if docstore is not None:
            titles |= {t for d in q.get("gold_doc_ids", []) if (t := docstore.title_of(d))}
        shared = sorted(t for t in titles if norm_title(t) in bench_titles)
        for t in shared:
            shared_titles.setdefault(t, sorted(bench_titles[norm_title(t)])[:20])
        if hits or shared:
            flagged.append({"question_id": q["question_id"], "ngram_fields": sorted(hits),
                            "bench_items": sorted(set().union(*hits.values()))[:50] if hits else [],
                            "shared_titles": shared})
    return {"bench": bench, "n": n, "bench_items": n_items, "build_questions": len(questions),
            "questions_with_ngram_overlap": sum(bool(f["ngram_fields"]) for f in flagged),
            "questions_with_shared_titles": sum(bool(f["shared_titles"]) for f in flagged),
            "same_normalized_answer (info only)": answer_matches,
            "shared_titles": shared_titles, "flagged": flagged}


def to_markdown(r: dict[str, Any]) -> str:
    lines = [f"# Overlap of the build with {r['bench']} ({r['n']}-grams)", "",
             f"- build questions: {r['build_questions']}; benchmark items: {r['bench_items']}",
             f"- questions sharing a {r['n']}-gram (question, answer or gold pages) with a benchmark question/answer: "
             f"{r['questions_with_ngram_overlap']}",
             f"- questions whose gold pages are pages the benchmark links to: {r['questions_with_shared_titles']} "
             f"({len(r['shared_titles'])} shared titles)",
             f"- questions with the same normalized answer as some benchmark item (info only, short answers "
             f"collide by chance): {r['same_normalized_answer (info only)']}", ""]
    if r["flagged"]:
        lines += ["| question_id | n-gram fields | benchmark items | shared titles |", "|---|---|---|---|"]
        for f in r["flagged"][:200]:
            lines.append(f"| {f['question_id']} | {', '.join(f['ngram_fields']) or '-'} | "
                         f"{', '.join(f['bench_items'][:5]) or '-'} | {', '.join(f['shared_titles'][:5]) or '-'} |")
    return "\n".join(lines) + "\n"


def write_filtered_export(build_dir: Path, drop_question_ids: set[str], out: Path) -> int:
    """slime JSONL of the build's samples without the flagged questions; returns samples kept."""
    from longtracerl.io.jsonl import read_records
    from longtracerl.pipeline.export import write_slime
    from longtracerl.records import Sample

    samples = [s for s in read_records(build_dir / "samples.jsonl", Sample) if s.question_id not in drop_question_ids]
    write_slime(samples, out)
    return len(samples)


def run_overlap(build_dir: Path, items: Iterable[EvalItem], out_dir: Path, *, n: int = 13,
                filtered_export: Path | None = None, drop_shared_titles: bool = False) -> dict[str, Any]:
    questions, docstore = build_inputs(build_dir)
    r = overlap(questions, docstore, items, n=n)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"overlap_{r['bench']}.json").write_text(json.dumps(r, indent=2, ensure_ascii=False))
    (out_dir / f"overlap_{r['bench']}.md").write_text(to_markdown(r))
    if filtered_export is not None:
        drop = {f["question_id"] for f in r["flagged"] if f["ngram_fields"] or (drop_shared_titles and f["shared_titles"])}
        r["filtered_export"] = {"path": str(filtered_export), "kept_samples": write_filtered_export(build_dir, drop, filtered_export),
                                "dropped_questions": len(drop)}
    return r
