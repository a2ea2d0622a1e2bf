"""Turn a run's records into what the page shows: one summary per item, one detail per opened item.

An item is a kept sample or a rejected one (rejections carry their stage and reason, and link to their
question, chain and trajectory where those exist), so the list can be filtered by rejection reason.
Documents are read from the DocStore with a per-document character cap; a document absent from the store
is marked missing rather than failing the page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from longtracerl.view.rundata import RunData

DOC_CHAR_CAP = 100_000  # characters of one document embedded in the page (the server sends more)
SERVER_DOC_CHAR_CAP = 2_000_000


def _kept_item(s: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(s.get("sample_id") or s.get("question_id")), "kind": "sample",
            "question_id": s.get("question_id"), "question": s.get("question", ""), "answer": s.get("label", ""),
            # the prompt as the trainer counts it (chat template included), what L bounds; samples written before
            # prompt_tokens existed show their message-text count
            "strategy": s.get("strategy", ""), "prompt_tokens": s.get("prompt_tokens") or s.get("n_tokens"),
            "n_docs": len(s.get("docs") or []),
            "reason": "kept", "stage": "", "source": f"samples.jsonl line {s.get('_line')}"}


def _rejected_item(rd: RunData, r: dict[str, Any], i: int) -> dict[str, Any]:
    item = str(r.get("item_id", ""))
    qid = item if item in rd.questions else rd.questions_by_chain.get(item)
    q = rd.questions.get(qid or "") or {}
    return {"id": f"rejected:{r.get('stage', '?')}:{item}:{i}", "kind": "rejected", "question_id": qid,
            "item_id": item, "question": q.get("question", ""), "answer": q.get("answer", ""), "strategy": "",
            "prompt_tokens": None, "n_docs": 0, "reason": str(r.get("reason", "?")), "stage": str(r.get("stage", "?")),
            "detail": str(r.get("detail", ""))[:2000], "source": f"rejected.jsonl line {r.get('_line')}"}


def items(rd: RunData) -> list[dict[str, Any]]:
    """Every sample, then every rejection, as list rows."""
    out = [_kept_item(s) for s in rd.samples]
    out += [_rejected_item(rd, r, i) for i, r in enumerate(rd.rejected)]
    return out


def _chain_view(chain: dict[str, Any] | None, q: dict[str, Any]) -> list[dict[str, Any]]:
    if not chain:
        return []
    clues = q.get("hop_clues") or []
    hops = []
    for i, h in enumerate(chain.get("hops") or []):
        hops.append({"title": h.get("title", ""), "entity_id": h.get("entity_id", ""), "doc_id": h.get("doc_id"),
                     "relation": h.get("relation"), "jump": bool(h.get("jump", h.get("jumped", False))),
                     "clue": clues[i] if i < len(clues) and isinstance(clues[i], str) else None})
    return hops


def detail(rd: RunData, item: dict[str, Any], sample: dict[str, Any] | None) -> dict[str, Any]:
    """Everything one item's view needs except document texts (those are keyed by doc id)."""
    qid = item.get("question_id")
    q = dict(rd.questions.get(qid or "") or {})
    chain_id = q.get("chain_id") or (item.get("item_id") if item.get("item_id") in rd.chains else None)
    chain = rd.chains.get(chain_id or "")
    traj = rd.trajectories.get(qid or "")
    missing = []
    if not q and item.get("kind") == "sample":
        missing.append("question record not found in questions.jsonl")
    if qid and traj is None and item.get("kind") == "sample":
        missing.append("trajectory not found in trajectories.jsonl")
    if chain_id and chain is None:
        missing.append(f"chain {chain_id} not found in chains.jsonl")
    out: dict[str, Any] = {
        "item": item,
        "question": {"question": q.get("question") or item.get("question", ""),
                     "answer": q.get("answer") or item.get("answer", ""),
                     "answer_aliases": q.get("answer_aliases") or [],
                     "gold_entities": q.get("gold_entities") or (sample or {}).get("rubrics") or [],
                     "gold_doc_ids": q.get("gold_doc_ids") or [],
                     "writer": q.get("writer") or {}, "hop_clues": q.get("hop_clues"),
                     "validation": q.get("validation") or {}},
        "chain_id": chain_id,
        "chain": _chain_view(chain, q),
        "trajectory": _traj_view(traj),
        "context": None,
        "missing": missing,
    }
    if sample is not None:
        out["context"] = {"docs": [{"doc_id": str(d.get("doc_id")), "tier": d.get("tier", "fill"),
                                    "n_tokens": d.get("n_tokens", 0)} for d in sample.get("docs") or []],
                          "n_tokens": sample.get("n_tokens"),
                          "prompt_tokens": sample.get("prompt_tokens") or sample.get("n_tokens"),
                          "tokenizer": sample.get("tokenizer"),
                          "strategy": sample.get("strategy"), "details": sample.get("details")}
    return out


def _traj_view(t: dict[str, Any] | None) -> dict[str, Any] | None:
    if t is None:
        return None
    steps = []
    for s in t.get("steps") or []:
        steps.append({"kind": s.get("kind"), "query": s.get("query"), "thought": s.get("thought"),
                      "results": [{"doc_id": h.get("doc_id"), "title": h.get("title"), "rank": h.get("rank"),
                                   "score": h.get("score"), "snippet": (h.get("snippet") or "")[:400]}
                                  for h in (s.get("results") or [])],
                      "doc_id": s.get("doc_id"), "answer": s.get("answer"), "cited_doc_ids": s.get("cited_doc_ids"),
                      "error": s.get("error")})
    return {"steps": steps, "final_answer": t.get("final_answer", ""), "cited_doc_ids": t.get("cited_doc_ids") or [],
            "correct": t.get("correct"), "agent": t.get("agent", ""), "end_reason": t.get("end_reason", ""),
            "attempt": t.get("attempt"), "judge": t.get("judge") or {}}


def referenced_doc_ids(det: dict[str, Any]) -> list[str]:
    """Doc ids an item's view can open: context docs, gold docs, opened and cited pages, search hits."""
    seen: dict[str, None] = {}
    for d in (det.get("context") or {}).get("docs", []):
        seen.setdefault(d["doc_id"], None)
    for x in det["question"].get("gold_doc_ids") or []:
        seen.setdefault(str(x), None)
    t = det.get("trajectory") or {}
    for s in t.get("steps", []):
        if s.get("doc_id"):
            seen.setdefault(str(s["doc_id"]), None)
        for x in s.get("cited_doc_ids") or []:
            seen.setdefault(str(x), None)
    return list(seen)


class DocSource:
    """Documents by id from the run's DocStore; tolerant of a missing store and missing ids."""

    def __init__(self, path: Path | None, problems: list[str], *, unavailable: str = "") -> None:
        self.store: Any = None
        self.reason = unavailable
        if not unavailable and path is None:
            self.reason = "the run's config.yaml does not say where its documents are"
        elif not unavailable and path is not None:
            try:
                from longtracerl.corpus.docstore import DocStore

                self.store = DocStore.open(path)
            except (OSError, ValueError) as e:
                self.reason = f"document store unavailable: {e}"
        if self.reason:
            problems.append(self.reason + " (document texts are not shown)")

    def title(self, doc_id: str) -> str | None:
        return None if self.store is None else self.store.title_of(doc_id)

    def get(self, doc_id: str, cap: int = DOC_CHAR_CAP) -> dict[str, Any]:
        """``{title, text, n_chars, truncated, missing}``; text is None when the document cannot be read."""
        if self.store is None:
            return {"doc_id": doc_id, "title": None, "text": None, "n_chars": 0, "truncated": False,
                    "missing": self.reason}
        d = self.store.get(doc_id)
        if d is None:
            return {"doc_id": doc_id, "title": None, "text": None, "n_chars": 0, "truncated": False,
                    "missing": "not in the document store"}
        n = len(d.text)
        return {"doc_id": doc_id, "title": d.title, "text": d.text[:cap], "n_chars": n, "truncated": n > cap,
                "missing": None}

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
