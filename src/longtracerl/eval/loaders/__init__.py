"""One loader per benchmark, each reading the benchmark's official published layout."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from longtracerl.eval.items import BenchDataError, EvalItem
from longtracerl.eval.loaders import aa_lcr, frames, indist, longbench_v2, longreason, mrcr

LOADERS: dict[str, Callable[..., Iterator[EvalItem]]] = {
    "aa-lcr": aa_lcr.load,
    "mrcr": mrcr.load,
    "frames": frames.load,
    "longbench-v2": longbench_v2.load,
    "longreason": longreason.load,
    "indist": indist.load,
}
FIVE = ["aa-lcr", "mrcr", "frames", "longbench-v2", "longreason"]


def load_items(bench: str, data: str | None = None, **opts: Any) -> Iterator[EvalItem]:
    """Stream validated items of ``bench`` (see ``LOADERS``); options are per benchmark."""
    if bench not in LOADERS:
        raise BenchDataError(bench, f"unknown benchmark; known: {', '.join(LOADERS)}")
    return LOADERS[bench](data, **opts)


__all__ = ["FIVE", "LOADERS", "BenchDataError", "EvalItem", "load_items"]
