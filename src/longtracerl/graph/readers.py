"""Streaming readers of graph sources: KILT pages with anchors, triples, entity label/alias files.

Each reader yields small tuples per record and never holds the file in memory. A malformed record
raises ``GraphInputError`` naming the file and line, unless ``skip_bad`` is set, in which case it is
counted in ``ReadStats`` and skipped.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import unquote

try:  # orjson parses KILT lines ~3x faster; plain json is the fallback
    import orjson

    _loads: Callable[[bytes | str], Any] = orjson.loads
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads


class GraphInputError(ValueError):
    """Bad graph input; the message names the file and the 1-based line number."""

    def __init__(self, path: Path | str, line_no: int, msg: str) -> None:
        super().__init__(f"{path}:{line_no}: {msg}")
        self.path = str(path)
        self.line_no = line_no


@dataclass
class ReadStats:
    """What a reader saw: records read and malformed records skipped (with ``skip_bad``)."""

    records: int = 0
    skipped_bad: int = 0


def open_text(path: Path | str) -> TextIO:
    """Open a text file, transparently decompressing ``.gz``."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    if p.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(p, "rb"), encoding="utf-8")
    return p.open("r", encoding="utf-8")


def _open_bytes_lines(path: Path | str) -> Iterator[bytes]:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    f = gzip.open(p, "rb") if p.suffix == ".gz" else p.open("rb")
    with f:
        yield from f


def _bad(path: Path | str, line_no: int, msg: str, skip_bad: bool, stats: ReadStats) -> None:
    if not skip_bad:
        raise GraphInputError(path, line_no, msg)
    stats.skipped_bad += 1


# ---------------------------------------------------------------------------- KILT


def href_title(href: str) -> str:
    """Page title from a KILT/Wikipedia ``href`` (URL-quoted, underscores, lower-case first letter)."""
    t = unquote(href).replace("_", " ").strip()
    t = t.split("#", 1)[0].strip()
    return t[:1].upper() + t[1:] if t else t


def iter_kilt_pages(
    path: Path | str, *, skip_bad: bool = False, stats: ReadStats | None = None
) -> Iterator[tuple[str, str, list[tuple[str | None, str | None]]]]:
    """Yield ``(wikipedia_id, title, [(target_id, target_title), ...])`` per KILT knowledge-source line.

    A target is identified by its ``wikipedia_id`` when the anchor has one, else by ``wikipedia_title``,
    else by the title decoded from ``href``. Pages without anchors are still yielded (they are nodes).
    """
    st = stats if stats is not None else ReadStats()
    for line_no, raw in enumerate(_open_bytes_lines(path), 1):
        if not raw.strip():
            continue
        try:
            rec = _loads(raw)
        except ValueError as e:
            _bad(path, line_no, f"not valid JSON ({e})", skip_bad, st)
            continue
        if not isinstance(rec, dict):
            _bad(path, line_no, "expected a JSON object", skip_bad, st)
            continue
        wid = rec.get("wikipedia_id")
        title = rec.get("wikipedia_title")
        if wid is None or not isinstance(title, str) or not title:
            _bad(path, line_no, "field 'wikipedia_id'/'wikipedia_title' missing", skip_bad, st)
            continue
        anchors = rec.get("anchors") or []
        if not isinstance(anchors, list):
            _bad(path, line_no, "field 'anchors': expected a list", skip_bad, st)
            continue
        targets: list[tuple[str | None, str | None]] = []
        for a in anchors:
            if not isinstance(a, dict):
                continue
            tid = a.get("wikipedia_id")
            ttitle = a.get("wikipedia_title")
            if not ttitle:
                href = a.get("href")
                ttitle = href_title(href) if isinstance(href, str) and href else None
            if tid is None and not ttitle:
                continue
            targets.append((None if tid is None else str(tid), ttitle or None))
        st.records += 1
        yield str(wid), title, targets


# ---------------------------------------------------------------------------- triples


@dataclass(frozen=True)
class Triple:
    subject: str
    relation: str | None
    object: str
    subject_doc_id: str | None = None
    object_doc_id: str | None = None


def _triples_from_row(row: dict[str, Any]) -> Iterator[Triple]:
    if "evidences" in row:  # a 2WikiMultihopQA record
        for ev in row["evidences"] or []:
            if not (isinstance(ev, list | tuple) and len(ev) == 3):
                raise ValueError(f"field 'evidences': expected [subject, relation, object], got {ev!r}")
            s, r, o = (str(x).strip() for x in ev)
            if s and o:
                yield Triple(s, r or None, o)
        return
    try:
        s, o = str(row["subject"]).strip(), str(row["object"]).strip()
    except KeyError as e:
        raise ValueError(f"field {e.args[0]!r} missing") from None
    if not s or not o:
        raise ValueError("empty 'subject' or 'object'")
    rel = row.get("relation")
    yield Triple(
        s,
        str(rel) if rel else None,
        o,
        row.get("subject_doc_id") or None,
        row.get("object_doc_id") or None,
    )


def iter_triples(
    path: Path | str, *, skip_bad: bool = False, stats: ReadStats | None = None
) -> Iterator[Triple]:
    """Triples from a file, by suffix (``.gz`` allowed on top):

    - ``.json``: a JSON list of 2WikiMultihopQA records (their ``evidences``) or of triple objects;
    - ``.jsonl``: one ``{"subject", "relation", "object", "subject_doc_id"?, "object_doc_id"?}`` per
      line (a 2Wiki record per line also works);
    - ``.tsv``: ``subject<TAB>relation<TAB>object`` (an optional header line is skipped).
    """
    st = stats if stats is not None else ReadStats()
    p = Path(path)
    suffix = p.suffixes[-2] if p.suffix == ".gz" and len(p.suffixes) > 1 else p.suffix
    if suffix == ".json":
        with open_text(p) as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                raise GraphInputError(p, e.lineno, f"not valid JSON ({e.msg})") from None
        if not isinstance(data, list):
            raise GraphInputError(p, 1, "expected a JSON list of records")
        for i, row in enumerate(data):
            try:
                if not isinstance(row, dict):
                    raise ValueError("expected a JSON object")
                got = list(_triples_from_row(row))
            except ValueError as e:
                _bad(p, 1, f"record {i}: {e}", skip_bad, st)
                continue
            st.records += 1
            yield from got
    elif suffix == ".jsonl":
        with open_text(p) as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = _loads(line)
                    if not isinstance(row, dict):
                        raise ValueError("expected a JSON object")
                    got = list(_triples_from_row(row))
                except ValueError as e:
                    _bad(p, line_no, str(e), skip_bad, st)
                    continue
                st.records += 1
                yield from got
    elif suffix == ".tsv":
        with open_text(p) as f:
            for line_no, line in enumerate(f, 1):
                parts = line.rstrip("\n\r").split("\t")
                if not line.strip():
                    continue
                if line_no == 1 and [x.lower() for x in parts[:3]] == ["subject", "relation", "object"]:
                    continue
                if len(parts) != 3 or not parts[0].strip() or not parts[2].strip():
                    _bad(p, line_no, f"expected 3 tab-separated fields, got {len(parts)}", skip_bad, st)
                    continue
                st.records += 1
                yield Triple(parts[0].strip(), parts[1].strip() or None, parts[2].strip())
    else:
        raise GraphInputError(p, 0, f"unknown triples format {p.suffix!r} (use .json, .jsonl or .tsv)")


# ---------------------------------------------------------------------------- entities


def iter_entities(
    path: Path | str, *, skip_bad: bool = False, stats: ReadStats | None = None
) -> Iterator[tuple[str, str, str | None, list[str]]]:
    """Labels and aliases: ``(entity_id, title, doc_id, aliases)``.

    ``.jsonl``: ``{"entity_id", "title", "doc_id"?, "aliases"?}`` (the ``Entity`` record);
    ``.tsv``: ``entity_id<TAB>title[<TAB>alias|alias|...]``.
    """
    st = stats if stats is not None else ReadStats()
    p = Path(path)
    is_tsv = p.name.removesuffix(".gz").endswith(".tsv")
    with open_text(p) as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            if is_tsv:
                parts = line.rstrip("\n\r").split("\t")
                if len(parts) < 2 or not parts[0].strip() or not parts[1].strip():
                    _bad(p, line_no, "expected entity_id<TAB>title[<TAB>aliases]", skip_bad, st)
                    continue
                al = [a.strip() for a in parts[2].split("|")] if len(parts) > 2 else []
                st.records += 1
                yield parts[0].strip(), parts[1].strip(), None, [a for a in al if a]
                continue
            try:
                row = _loads(line)
                if not isinstance(row, dict):
                    raise ValueError("expected a JSON object")
                eid, title = str(row["entity_id"]), str(row["title"])
                aliases = row.get("aliases") or []
                if not isinstance(aliases, list):
                    raise ValueError("field 'aliases': expected a list")
            except KeyError as e:
                _bad(p, line_no, f"field {e.args[0]!r} missing", skip_bad, st)
                continue
            except ValueError as e:
                _bad(p, line_no, str(e), skip_bad, st)
                continue
            st.records += 1
            yield eid, title, row.get("doc_id") or None, [str(a) for a in aliases if a]
