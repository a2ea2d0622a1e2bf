"""LongBench v2: ``data.json``, 503 four-choice questions (``_id``, ``domain``, ``sub_domain``,
``difficulty`` easy|hard, ``length`` short|medium|long, ``question``, ``choice_A``..``choice_D``, ``answer``,
``context``). Middle truncation to the model's window happens in the runner, in the model's tokenizer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from longtracerl.eval.items import BenchDataError, EvalItem, require
from longtracerl.eval.loaders.common import (
    check_columns,
    hub_snapshot,
    iter_rows,
    local_path,
    looks_like_hub_id,
)

BENCH = "longbench-v2"
HUB_ID = "THUDM/LongBench-v2"
COLUMNS = ["_id", "domain", "sub_domain", "difficulty", "length", "question", "choice_A", "choice_B", "choice_C",
           "choice_D", "answer", "context"]
_ALLOWED = {"difficulty": {"easy", "hard"}, "length": {"short", "medium", "long"}, "answer": set("ABCD")}


def json_path(data: str | None) -> Path:
    path = hub_snapshot(data or HUB_ID, ["*.json"]) if (data is None or looks_like_hub_id(data)) else local_path(data)
    if path.is_dir():
        found = sorted(path.rglob("data.json")) or sorted(path.rglob("*.json"))
        if not found:
            raise BenchDataError(str(path), "no data.json in this folder")
        return found[0]
    return path


def load(data: str | None = None, **_: object) -> Iterator[EvalItem]:
    path = json_path(data)
    src = str(path)
    for i, row in iter_rows(path):
        if i == 1:
            check_columns(path, row, COLUMNS, i)
        vals = {c: require(row, c, src, i) for c in COLUMNS}
        for f, allowed in _ALLOWED.items():
            if vals[f] not in allowed:
                raise BenchDataError(src, f"{vals[f]!r} is not one of {', '.join(sorted(allowed))}", row=i, field=f)
        yield EvalItem(
            item_id=vals["_id"], bench=BENCH,
            split={"difficulty": vals["difficulty"], "length": vals["length"], "domain": vals["domain"]},
            fields={k: vals[k] for k in ("context", "question", "choice_A", "choice_B", "choice_C", "choice_D")},
            gold=vals["answer"], question=vals["question"], meta={"sub_domain": vals["sub_domain"]},
        )
