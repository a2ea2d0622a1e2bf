"""Task results through a URL instead of Ray's object store (``executor.ray.output_url``).

A task writes its records to ``<url>/<task>.{out,rejected}.jsonl`` (a path or any fsspec URL: s3://, gs://,
file://) and returns only their URLs; the driver reads each back, appends it to the stage file, then deletes
it. Each driver invocation writes under its own prefix, removed when the stage ends (so results of tasks
whose driver was killed do not pile up).
"""

from __future__ import annotations

import uuid
from typing import Any

from longtracerl.pipeline.context import RunContext


def _fs(url: str) -> tuple[Any, str]:
    from fsspec.core import url_to_fs

    return url_to_fs(url)  # type: ignore[no-any-return]


def put_result(res: dict[str, Any], url: str | None) -> dict[str, Any]:
    """With an output URL, a task's records go to ``<url>/<task>.{out,rejected}.jsonl`` and only their URLs
    travel back through the object store (``executor.ray.output_url``)."""
    if not url:
        return res
    fs, root = _fs(url)
    if "file" in fs.protocol:  # object stores have no directories to make
        fs.makedirs(root, exist_ok=True)
    task = uuid.uuid4().hex
    for k in ("out", "rejected"):
        path = f"{root.rstrip('/')}/{task}.{k}.jsonl"
        with fs.open(path, "wb") as f:
            f.write(res[k])
        res[k], res[f"{k}_url"] = b"", fs.unstrip_protocol(path)
    return res


def take_result(res: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The records of a task result, read back from its URLs when it wrote them there; and those URLs (to
    delete once the records are in the stage file)."""
    urls = []
    for k in ("out", "rejected"):
        u = res.pop(f"{k}_url", None)
        if u:
            fs, path = _fs(u)
            res[k] = fs.cat_file(path)
            urls.append(u)
    return res, urls


def drop_urls(urls: list[str]) -> None:
    for u in urls:
        fs, path = _fs(u)
        fs.rm(path)


def output_prefix(ctx: RunContext, stage: str) -> str | None:
    """``<output_url>/<run name>-<invocation>/<stage>``: a driver's own prefix, removed when its stage ends."""
    url = ctx.cfg.executor.ray.output_url
    if not url:
        return None
    return f"{url.rstrip('/')}/{ctx.cfg.name}-{uuid.uuid4().hex[:12]}/{stage}"


def remove_prefix(prefix: str | None) -> None:
    """Delete what is left under a stage's output prefix (results of tasks whose driver was gone)."""
    if not prefix:
        return
    fs, root = _fs(prefix)
    try:
        if fs.exists(root):
            fs.rm(root, recursive=True)
        parent = root.rstrip("/").rsplit("/", 1)[0]
        if "file" in fs.protocol and fs.exists(parent) and not fs.ls(parent):
            fs.rmdir(parent)
    except OSError:
        pass
