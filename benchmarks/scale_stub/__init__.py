"""A stub per-item stage for ``bench_scale.py``: 100,000 tiny items through the Ray executor (driver memory).

Shipped to the Ray workers as a py_module (``executor.ray.runtime_env``), so the executor resolves it by
``module:class`` like any stage outside the built-in list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from longtracerl.io import JsonlAppender
from longtracerl.pipeline.context import RunContext
from longtracerl.pipeline.stages import ItemStage


class StubItem(BaseModel):
    item_id: str
    payload: str


class StubStage(ItemStage):
    """Echoes each item with a ~1 KB result: the executor's overhead, nothing else."""

    name = "stub"
    out_key = "item_id"
    item_model: ClassVar[type[BaseModel]] = StubItem
    input_file = "stub_items.jsonl"
    input_key = "item_id"

    def out_path(self, ctx: RunContext) -> Path:
        return ctx.dir / "stub_out.jsonl"

    def run_items(self, ctx: RunContext, items: list[Any], out: Path, rejected: Path) -> dict[str, Any]:
        with JsonlAppender(out, "item_id") as w:
            for it in items:
                w.write({"item_id": it.item_id, "result": it.payload * 4})
        return {"done": len(items)}
