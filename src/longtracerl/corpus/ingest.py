"""Files -> DocStore, the one ingest path the CLI and library callers share.

Streaming (one batch in RAM), with bad records either stopping the run (``CorpusFormatError`` naming
``file:line``; everything before it is committed and valid) or skipped and counted (``skip_bad``).
Rerunning the same files on the same store is safe: pages already there are counted, not duplicated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from longtracerl.corpus.docstore import DocStoreWriter, IngestStats, OnDuplicateTitle
from longtracerl.corpus.readers import Format, read_corpus

MAX_BAD_EXAMPLES = 20


def ingest_files(
    files: Sequence[Path | str],
    out: Path | str,
    *,
    fmt: Format | Literal["auto"] = "auto",
    skip_bad: bool = False,
    on_duplicate_title: OnDuplicateTitle = "merge",
    on_progress: Callable[[Path, int], None] | None = None,
) -> IngestStats:
    """Ingest ``files`` into the DocStore at ``out`` (created or appended to) and return what happened.

    ``on_progress(file, n_docs_of_that_file)`` is called every 1,000 documents and at each file's end.
    """
    errors: list[str] | None = [] if skip_bad else None
    with DocStoreWriter(out, on_duplicate_title=on_duplicate_title) as w:
        try:
            for f in map(Path, files):
                n = 0
                for doc, _where in read_corpus(f, fmt, errors):
                    w.add(doc)
                    n += 1
                    if on_progress is not None and n % 1000 == 0:
                        on_progress(f, n)
                if on_progress is not None:
                    on_progress(f, n)
        finally:
            if errors:
                w.stats.n_bad_skipped = len(errors)
                w.stats.bad_examples = errors[:MAX_BAD_EXAMPLES]
    return w.stats
