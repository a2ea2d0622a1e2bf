"""Reading the files benchmarks publish (CSV/TSV, JSON, JSONL, parquet) row by row, and hub ids.

A ``--data`` value that is not a local path and looks like ``owner/name`` is fetched with
``huggingface_hub`` (needs network and the ``eval`` extra); everything else reads local files.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from longtracerl.eval.items import BenchDataError


def looks_like_hub_id(data: str) -> bool:
    return not Path(data).exists() and data.count("/") == 1 and not data.startswith((".", "/", "~"))


def hub_snapshot(repo_id: str, allow_patterns: list[str] | None = None) -> Path:
    """Download (or reuse the cache of) a Hugging Face dataset repository; returns its local folder."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:  # pragma: no cover - the eval extra brings it
        raise BenchDataError(repo_id, "reading a hub id needs huggingface_hub (pip install 'longtracerl[eval]')") from None
    try:
        return Path(snapshot_download(repo_id=repo_id, repo_type="dataset", allow_patterns=allow_patterns))
    except Exception as e:  # network errors, gated repos, unknown ids
        raise BenchDataError(repo_id, f"could not fetch from the Hugging Face hub ({type(e).__name__}: {e})") from None


def local_path(data: str) -> Path:
    p = Path(data).expanduser()
    if not p.exists():
        raise BenchDataError(data, "no such file or directory (and not a Hugging Face dataset id)")
    return p


def iter_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(row_number, row)`` with 1-based numbers as a user would count them (data rows, header excluded)."""
    suffix = path.suffix.lower()
    if path.is_file() and path.stat().st_size == 0:
        raise BenchDataError(str(path), "empty file")
    if suffix in (".csv", ".tsv"):
        csv.field_size_limit(sys.maxsize)
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f, delimiter="\t" if suffix == ".tsv" else ",")
            if not reader.fieldnames:
                raise BenchDataError(str(path), "no header row")
            for i, row in enumerate(reader, 1):
                yield i, row
    elif suffix == ".jsonl":
        from longtracerl.io.jsonl import JsonlError, iter_jsonl

        try:
            yield from iter_jsonl(path, allow_torn_tail=False)
        except JsonlError as e:
            raise BenchDataError(str(path), str(e).split(": ", 1)[-1], row=e.line_no) from None
    elif suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise BenchDataError(str(path), f"not valid JSON ({e})") from None
        if isinstance(data, dict) and isinstance(data.get("data"), list):
            data = data["data"]
        if not isinstance(data, list):
            raise BenchDataError(str(path), f"expected a JSON list of rows, got {type(data).__name__}")
        for i, row in enumerate(data, 1):
            if not isinstance(row, dict):
                raise BenchDataError(str(path), f"expected an object, got {type(row).__name__}", row=i)
            yield i, row
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except Exception as e:
            raise BenchDataError(str(path), f"not a parquet file ({e})") from None
        i = 0
        for batch in pf.iter_batches(batch_size=64):
            for row in batch.to_pylist():
                i += 1
                yield i, row
    else:
        raise BenchDataError(str(path), f"unsupported file type {suffix or '(none)'}; expected .csv .tsv .json .jsonl .parquet")


def check_columns(path: Path, row: dict[str, Any], needed: list[str], row_no: int) -> None:
    """The first row tells whether the file has the layout at all: name every missing column at once."""
    missing = [c for c in needed if c not in row]
    if missing:
        raise BenchDataError(str(path), f"missing column(s) {', '.join(missing)}; found {', '.join(map(str, row))[:300]}",
                             row=row_no)
