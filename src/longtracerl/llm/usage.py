"""Usage accounting per stage (calls, prompt and completion tokens, seconds), for the build report."""

from __future__ import annotations

import threading

from longtracerl.records import Usage


class UsageMeter:
    """Sums ``Usage`` by stage name; cached answers are counted apart (they cost nothing)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_stage: dict[str, Usage] = {}
        self.cached: dict[str, int] = {}

    def add(self, stage: str, usage: Usage, *, cached: bool = False) -> None:
        with self._lock:
            if cached:
                self.cached[stage] = self.cached.get(stage, 0) + 1
                return
            self.by_stage[stage] = self.by_stage.get(stage, Usage()).add(usage)

    def total(self) -> Usage:
        out = Usage()
        for u in self.by_stage.values():
            out = out.add(u)
        return out

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {k: {**v.model_dump(), "cached_calls": self.cached.get(k, 0)} for k, v in self.by_stage.items()}
