"""JSONL readers and writers that survive a kill: append-safe writes, torn-line repair, resume by id."""

from longtracerl.io.jsonl import (
    JsonlAppender,
    JsonlError,
    dumps,
    iter_jsonl,
    read_records,
    repair_tail,
    rewrite_in_order,
    write_records,
)

__all__ = [
    "JsonlAppender",
    "JsonlError",
    "dumps",
    "iter_jsonl",
    "read_records",
    "repair_tail",
    "rewrite_in_order",
    "write_records",
]
