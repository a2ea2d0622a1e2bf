"""Streaming corpus readers: KILT, generic JSONL/parquet, HotpotQA/2Wiki context format, MuSiQue.

Every reader yields ``(Document, where)`` pairs, ``where`` being ``"file:line"`` so an ingest error
names its source, and never holds the corpus in memory (JSON-array files, the usual layout of HotpotQA
and 2WikiMultihopQA, are decoded one item at a time too).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

from longtracerl.records import Document

Format = Literal["kilt", "generic", "context", "musique"]


class CorpusFormatError(ValueError):
    """A malformed record; the message names the file and line (or array index)."""

    def __init__(self, where: str, msg: str) -> None:
        super().__init__(f"{where}: {msg}")
        self.where = where


def stable_id(title: str) -> str:
    """Id derived from a title when the source has none: stable across runs and machines."""
    return "t" + hashlib.sha1(title.encode("utf-8")).hexdigest()[:16]


def _open(path: Path, mode: Literal["rb", "rt"] = "rb") -> IO[Any]:
    """Plain or gzip-compressed (``.gz``) files alike."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb") if mode == "rb" else gzip.open(path, "rt", encoding="utf-8")  # type: ignore[return-value]
    return path.open("rb") if mode == "rb" else path.open("r", encoding="utf-8")


def _jsonl(path: Path, errors: list[str] | None = None) -> Iterator[tuple[str, Any]]:
    with _open(path) as f:
        for i, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            where = f"{path}:{i}"
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as e:
                err = CorpusFormatError(where, f"not valid JSON ({e.msg}, column {e.colno})")
                if errors is None:
                    raise err from None
                errors.append(str(err))
                continue
            yield where, obj


def _records(path: Path, errors: list[str] | None = None) -> Iterator[tuple[str, Any]]:
    """JSONL lines, or the items of a top-level JSON array (streamed, named ``file:line``)."""
    with _open(path) as f:
        head = f.read(64).lstrip()
    if head.startswith(b"["):
        yield from _json_array(path, errors)
    else:
        yield from _jsonl(path, errors)


def _json_array(path: Path, errors: list[str] | None, chunk: int = 1 << 20) -> Iterator[tuple[str, Any]]:
    """Items of a top-level JSON array, decoded one at a time from a sliding buffer, so a multi-GB
    HotpotQA/2Wiki train file is never held in memory. A malformed item cannot be skipped (there is no
    line to resynchronise on): it stops the file, raising, or with ``errors`` given, recorded there."""
    dec = json.JSONDecoder()
    with _open(path, "rt") as f:
        buf, pos, line, eof = f.read(chunk), 0, 1, False
        pos = buf.index("[") + 1
        line += buf.count("\n", 0, pos)
        while True:
            # skip whitespace and the comma between items, refilling the buffer as needed
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n,":
                    line += buf[pos] == "\n"
                    pos += 1
                if pos < len(buf) or eof:
                    break
                buf, pos = f.read(chunk), 0
                eof = not buf
            if pos >= len(buf) or buf[pos] == "]":
                if pos >= len(buf):
                    err = CorpusFormatError(f"{path}:{line}", "JSON array is not closed (file truncated?)")
                    if errors is None:
                        raise err
                    errors.append(str(err))
                return
            while True:
                try:
                    obj, end = dec.raw_decode(buf, pos)
                    break
                except json.JSONDecodeError as e:
                    more = "" if eof else f.read(max(chunk, len(buf)))
                    if not more:
                        err = CorpusFormatError(f"{path}:{line + buf.count(chr(10), pos, e.pos)}", f"not valid JSON ({e.msg}); "
                                                "the rest of this JSON array file cannot be read")
                        if errors is None:
                            raise err from None
                        errors.append(str(err))
                        return
                    buf, pos = buf[pos:] + more, 0
            yield f"{path}:{line}", obj
            line += buf.count("\n", pos, end)
            pos = end


def _convert(
    items: Iterator[tuple[str, Any]], convert: Any, errors: list[str] | None
) -> Iterator[tuple[Document, str]]:
    """Apply ``convert(obj, where) -> list[Document]``; a bad record raises, or with ``errors`` given is
    recorded there and skipped (``--skip-bad``)."""
    for where, obj in items:
        try:
            docs = convert(obj, where)
        except CorpusFormatError as e:
            if errors is None:
                raise
            errors.append(str(e))
            continue
        for d in docs:
            yield d, where


def _need(obj: Any, key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(obj, dict):
        raise CorpusFormatError(where, f"expected a JSON object, got {type(obj).__name__}")
    if key not in obj:
        raise CorpusFormatError(where, f"missing field '{key}'")
    if not isinstance(obj[key], kind):
        raise CorpusFormatError(where, f"field '{key}' has type {type(obj[key]).__name__}")
    return obj[key]


def read_kilt(path: Path | str, errors: list[str] | None = None) -> Iterator[tuple[Document, str]]:
    """KILT knowledge source: ``wikipedia_id``, ``wikipedia_title``, ``text`` (paragraphs; the first
    one repeats the title and is dropped), ``anchors`` (read separately by ``iter_kilt_anchors``)."""

    def convert(obj: Any, where: str) -> list[Document]:
        wid = str(_need(obj, "wikipedia_id", where, (str, int)))
        title = _need(obj, "wikipedia_title", where, str)
        paras = _need(obj, "text", where, list)
        if paras and isinstance(paras[0], str) and paras[0].strip() == title.strip():
            paras = paras[1:]
        text = "\n".join(x.strip() for x in paras
                         if isinstance(x, str) and x.strip() and not x.startswith("Section::::"))
        url = f"https://en.wikipedia.org/wiki?curid={wid}"
        return [Document(doc_id=wid, title=title, text=text, source="kilt", url=url)]

    return _convert(_jsonl(Path(path), errors), convert, errors)


def iter_kilt_anchors(path: Path | str) -> Iterator[tuple[str, str, str]]:
    """``(src_wikipedia_id, src_title, target)`` for every anchor; target is the linked page's
    ``wikipedia_id`` when KILT resolved it, else its title (from ``wikipedia_title`` or ``href``)."""
    from urllib.parse import unquote

    for where, obj in _jsonl(Path(path)):
        wid = str(_need(obj, "wikipedia_id", where, (str, int)))
        title = _need(obj, "wikipedia_title", where, str)
        for a in obj.get("anchors") or []:
            if not isinstance(a, dict):
                continue
            target = a.get("wikipedia_id") or a.get("wikipedia_title")
            if not target and a.get("href"):
                target = unquote(str(a["href"])).replace("_", " ")
            if target:
                yield wid, title, str(target)


def read_generic(path: Path | str, errors: list[str] | None = None) -> Iterator[tuple[Document, str]]:
    """JSONL or parquet rows ``{id?, title, text}`` (``doc_id`` is accepted for ``id``)."""
    p = Path(path)
    if p.suffix == ".parquet":
        return _convert(_parquet_rows(p), lambda o, w: [_generic_doc(o, w)], errors)
    return _convert(_records(p, errors), lambda o, w: [_generic_doc(o, w)], errors)


def _parquet_rows(p: Path) -> Iterator[tuple[str, Any]]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(p)
    cols = set(pf.schema_arrow.names)
    for col in ("title", "text"):
        if col not in cols:
            raise CorpusFormatError(str(p), f"parquet file has no column '{col}' (columns: {sorted(cols)})")
    row = 0
    for batch in pf.iter_batches(batch_size=10_000):
        for obj in batch.to_pylist():
            row += 1
            yield f"{p}:row {row}", obj


def _generic_doc(obj: Any, where: str) -> Document:
    title = _need(obj, "title", where, str)
    text = _need(obj, "text", where, (str, list))
    if isinstance(text, list):
        text = "\n".join(str(x) for x in text)
    doc_id = obj.get("id", obj.get("doc_id"))
    return Document(doc_id=str(doc_id) if doc_id not in (None, "") else stable_id(title), title=title, text=text,
                    source=str(obj.get("source", "generic")), url=obj.get("url"))


def _key(title: str, text: str) -> bytes:
    """12-byte digest of a paragraph: the dedupe set of a 500K-paragraph train file stays ~50 MB."""
    return hashlib.blake2b(f"{title}\x00{text}".encode(), digest_size=12).digest()


def read_context_format(path: Path | str, errors: list[str] | None = None) -> Iterator[tuple[Document, str]]:
    """HotpotQA / 2WikiMultihopQA records ``context: [[title, [sentences]]]``; paragraphs shared by many
    questions are yielded once (same title and text)."""
    seen: set[bytes] = set()

    def convert(obj: Any, where: str) -> list[Document]:
        ctx = _need(obj, "context", where, (list, dict))
        if isinstance(ctx, dict):  # the HF hub layout: {"title": [...], "sentences": [[...], ...]}
            ctx = list(zip(ctx.get("title", []), ctx.get("sentences", []), strict=False))
        out = []
        for j, item in enumerate(ctx):
            if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)):
                raise CorpusFormatError(where, f"context[{j}] is not [title, [sentences]]")
            title, sents = item
            text = " ".join(x.strip() for x in sents) if isinstance(sents, list) else str(sents)
            key = _key(title, text)
            if key not in seen:
                seen.add(key)
                out.append(Document(doc_id=stable_id(title), title=title, text=text, source="context"))
        return out

    return _convert(_records(Path(path), errors), convert, errors)


def read_musique(path: Path | str, errors: list[str] | None = None) -> Iterator[tuple[Document, str]]:
    """MuSiQue records ``paragraphs: [{idx, title, paragraph_text, is_supporting}]``."""
    seen: set[bytes] = set()

    def convert(obj: Any, where: str) -> list[Document]:
        out = []
        for j, para in enumerate(_need(obj, "paragraphs", where, list)):
            if not isinstance(para, dict) or "title" not in para or "paragraph_text" not in para:
                raise CorpusFormatError(where, f"paragraphs[{j}] needs 'title' and 'paragraph_text'")
            key = _key(para["title"], para["paragraph_text"])
            if key not in seen:
                seen.add(key)
                out.append(Document(doc_id=stable_id(para["title"]), title=para["title"],
                                    text=para["paragraph_text"], source="musique"))
        return out

    return _convert(_records(Path(path), errors), convert, errors)


READERS = {"kilt": read_kilt, "generic": read_generic, "context": read_context_format, "musique": read_musique}


def detect_format(path: Path | str) -> Format:
    """Guess the format from the first record's fields."""
    p = Path(path)
    if p.suffix == ".parquet":
        return "generic"
    try:
        first = next(_records(p))[1]
    except StopIteration:
        raise CorpusFormatError(str(p), "file is empty") from None
    if isinstance(first, dict):
        if "wikipedia_id" in first and "wikipedia_title" in first:
            return "kilt"
        if "context" in first:
            return "context"
        if "paragraphs" in first:
            return "musique"
        if "title" in first and "text" in first:
            return "generic"
    raise CorpusFormatError(f"{p}:1", "unknown corpus format (expected KILT, {id?, title, text}, "
                            "context [[title, sentences]] or MuSiQue paragraphs)")


def read_corpus(
    path: Path | str, fmt: Format | Literal["auto"] = "auto", errors: list[str] | None = None
) -> Iterator[tuple[Document, str]]:
    """Documents of one file in the given (or detected) format; with ``errors``, bad records are skipped
    and described there instead of raising."""
    f: Format = detect_format(path) if fmt == "auto" else fmt
    return READERS[f](path, errors)
