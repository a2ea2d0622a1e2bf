"""FRAMES: ``test.tsv`` (``Prompt``, ``Answer``, ``wikipedia_link_1`` ... ``wikipedia_link_11+``,
``reasoning_types``). No article text ships with it: each question's context is built from the linked
articles, looked up by title in the user's DocStore (our KILT ingest) or in a JSONL of ``{title, text}``
(or ``{url, text}``) rows. Links that resolve to nothing are listed on the item (``meta.missing_links``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from longtracerl.eval.items import BenchDataError, EvalItem, require
from longtracerl.eval.loaders.common import (
    check_columns,
    hub_snapshot,
    iter_rows,
    local_path,
    looks_like_hub_id,
)

BENCH = "frames"
HUB_ID = "google/frames-benchmark"
_LINK_COL = re.compile(r"^wikipedia_link_(\d+)\+?$")


def link_title(url: str) -> str:
    """``https://en.wikipedia.org/wiki/Gone_with_the_Wind_(film)#Cast`` -> ``Gone with the Wind (film)``."""
    path = urlparse(url.strip()).path
    name = path.split("/wiki/", 1)[1] if "/wiki/" in path else path.rsplit("/", 1)[-1]
    return unquote(name).replace("_", " ").strip()


class ArticleSource:
    """Article text by title: a DocStore (titles as our ingest stored them) and/or a JSONL of articles."""

    def __init__(self, docstore: str | None = None, articles: str | None = None, *, required: bool = True) -> None:
        self.store: Any = None
        self.texts: dict[str, str] = {}
        if docstore:
            from longtracerl.corpus.docstore import DocStore

            self.store = DocStore.open(local_path(docstore))
        if articles:
            p = local_path(articles)
            for i, row in iter_rows(p):
                text = require(row, "text", str(p), i)
                key = row.get("title") or (link_title(row["url"]) if row.get("url") else None)
                if not key:
                    raise BenchDataError(str(p), "missing (need title or url)", row=i, field="title")
                self.texts[_norm(str(key))] = text
        if required and self.store is None and not self.texts:
            raise BenchDataError("frames", "FRAMES needs article texts: --docstore PATH (a KILT DocStore) "
                                           "or --articles JSONL ({title|url, text} rows)")

    def get(self, title: str) -> tuple[str, str] | None:
        t = self.texts.get(_norm(title))
        if t is not None:
            return title, t
        if self.store is not None:
            for cand in (title, title[:1].upper() + title[1:]):
                doc = self.store.get_by_title(cand)
                if doc is not None:
                    return doc.title, doc.text
        return None


def _norm(title: str) -> str:
    return " ".join(title.replace("_", " ").split()).casefold()


def tsv_path(data: str | None) -> Path:
    path = hub_snapshot(data or HUB_ID, ["*.tsv"]) if (data is None or looks_like_hub_id(data)) else local_path(data)
    if path.is_dir():
        found = sorted(path.rglob("test.tsv")) or sorted(path.rglob("*.tsv"))
        if not found:
            raise BenchDataError(str(path), "no test.tsv in this folder")
        return found[0]
    return path


def load(data: str | None = None, *, docstore: str | None = None, articles: str | None = None,
         articles_required: bool = True, **_: object) -> Iterator[EvalItem]:
    """Items with their article context; ``articles_required=False`` (overlap checks) allows no source."""
    path = tsv_path(data)
    src = ArticleSource(docstore, articles, required=articles_required)
    link_cols: list[str] = []
    for i, row in iter_rows(path):
        if i == 1:
            check_columns(path, row, ["Prompt", "Answer", "reasoning_types"], i)
            link_cols = sorted((c for c in row if c and _LINK_COL.match(c)), key=lambda c: int(_LINK_COL.match(c).group(1)))  # type: ignore[union-attr]
            if not link_cols:
                raise BenchDataError(str(path), "no wikipedia_link_N columns", row=i)
        links = [str(row[c]).strip() for c in link_cols if row.get(c) and str(row[c]).strip() not in ("", "nan")]
        found, missing = [], []
        for url in links:
            hit = src.get(link_title(url)) if (src.store is not None or src.texts) else None
            if hit is None:
                missing.append(url)
            else:
                found.append(hit)
        articles_text = "\n\n".join(f"Title: {t}\n{text.strip()}" for t, text in found)
        q = require(row, "Prompt", str(path), i)
        yield EvalItem(
            item_id=str(row.get("") or row.get("Unnamed: 0") or i - 1), bench=BENCH,
            split={"reasoning_types": str(row.get("reasoning_types") or "").strip()},
            fields={"articles": articles_text, "question": q},
            gold=require(row, "Answer", str(path), i), question=q,
            meta={"links": links, "missing_links": missing},
        )
