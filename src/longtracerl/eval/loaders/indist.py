"""In-distribution: the held-out split of our own ``build`` (``export/slime_test.jsonl``, written when
``export.test_fraction`` > 0), scored with the project's outcome scorer and rubric."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from longtracerl.eval.items import BenchDataError, EvalItem, require
from longtracerl.eval.loaders.common import iter_rows, local_path

BENCH = "indist"


def test_file(data: str | None) -> Path:
    if not data:
        raise BenchDataError("indist", "pass --data runs/NAME (a build with export.test_fraction > 0) or a slime JSONL")
    p = local_path(data)
    if p.is_dir():
        f = p / "export" / "slime_test.jsonl"
        if not f.exists():
            f = p / "slime_test.jsonl"
        if not f.exists():
            raise BenchDataError(str(p), "no export/slime_test.jsonl: rebuild with --set export.test_fraction=0.1")
        return f
    return p


def load(data: str | None = None, **_: object) -> Iterator[EvalItem]:
    path = test_file(data)
    src = str(path)
    for i, row in iter_rows(path):
        msgs = require(row, "input_messages", src, i, kind=list)
        if not isinstance(msgs, list) or not msgs:
            raise BenchDataError(src, "expected a non-empty list of messages", row=i, field="input_messages")
        info = ((row.get("metadata") or {}).get("extra_reward_info") or {})
        q = str(info.get("question") or msgs[-1].get("content", ""))
        label = require(row, "label", src, i)
        qid = hashlib.sha256(f"{q}\0{label}".encode()).hexdigest()[:12]
        yield EvalItem(item_id=f"{i - 1}:{qid}", bench=BENCH, split={}, messages=msgs, gold=label, question=q,
                       meta={"rubrics": list(info.get("rubrics") or [])})
