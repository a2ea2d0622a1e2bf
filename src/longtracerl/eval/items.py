"""What a loader yields: one benchmark item, already validated, in the benchmark's own terms."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class BenchDataError(ValueError):
    """A file in the wrong layout or a bad row: names the file, the row and the field."""

    def __init__(self, source: str, msg: str, *, row: int | str | None = None, field: str | None = None) -> None:
        where = source
        if row is not None:
            where += f" row {row}"
        if field is not None:
            where += f" field '{field}'"
        super().__init__(f"{where}: {msg}")
        self.source, self.row, self.field = source, row, field


class EvalItem(BaseModel):
    """One question. ``fields`` feed the prompt template (named placeholders); ``messages`` (MRCR, our own
    export) are sent as they are instead. ``split`` holds the fields the summary groups by."""

    model_config = ConfigDict(extra="forbid")

    item_id: str
    bench: str
    split: dict[str, str] = Field(default_factory=dict)
    fields: dict[str, str] = Field(default_factory=dict)
    messages: list[dict[str, Any]] | None = None
    gold: str
    question: str = ""
    meta: dict[str, Any] = Field(default_factory=dict)


def require(row: dict[str, Any], name: str, source: str, row_no: int | str, *, kind: type = str,
            allow_empty: bool = False) -> Any:
    """A present, well-typed field, or a BenchDataError naming file, row and field."""
    if name not in row or row[name] is None:
        raise BenchDataError(source, "missing", row=row_no, field=name)
    v = row[name]
    if kind is str:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            v = str(v)
        if not isinstance(v, str):
            raise BenchDataError(source, f"expected text, got {type(v).__name__}", row=row_no, field=name)
        if not allow_empty and not v.strip():
            raise BenchDataError(source, "empty", row=row_no, field=name)
        return v
    if kind is int:
        try:
            return int(v)
        except (TypeError, ValueError):
            raise BenchDataError(source, f"expected an integer, got {v!r}", row=row_no, field=name) from None
    return v
