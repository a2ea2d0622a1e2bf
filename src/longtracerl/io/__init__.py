"""JSONL readers and writers that survive a kill: append-safe writes, torn-line repair, resume by id."""

from longtracerl.io.jsonl import (
    JsonlAppender,
    JsonlError,
    dumps,
    iter_jsonl,
    iter_records,
    read_records,
    repair_tail,
    rewrite_in_order,
    write_records,
)
from longtracerl.io.offsets import OffsetIndex, iter_lines, key_of

__all__ = [
    "OffsetIndex",
    "iter_lines",
    "key_of",
    "JsonlAppender",
    "JsonlError",
    "dumps",
    "iter_jsonl",
    "iter_records",
    "read_records",
    "repair_tail",
    "rewrite_in_order",
    "write_records",
]
