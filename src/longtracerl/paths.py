"""Where longtracerl keeps caches and finds optional data, without naming any machine path."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """Cache root: ``$LONGTRACERL_HOME``, else ``~/.cache/longtracerl``. Created on demand."""
    p = Path(os.environ.get("LONGTRACERL_HOME", Path.home() / ".cache" / "longtracerl"))
    p.mkdir(parents=True, exist_ok=True)
    return p


def shared_data_dir() -> Path | None:
    """The real 2WikiMultihopQA data beside the repository (``../shared/data``), if present.

    ``$LONGTRACERL_SHARED_DATA`` overrides. Only tests and benchmarks use it; nothing else requires it.
    """
    env = os.environ.get("LONGTRACERL_SHARED_DATA")
    if env:
        p = Path(env)
        return p if p.is_dir() else None
    repo = Path(__file__).resolve().parents[2]
    p = repo.parent / "shared" / "data"
    return p if p.is_dir() else None
