"""The in-process llama.cpp backend on the REAL bundled SmolLM2-135M GGUF."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from longtracerl.llm import UsageMeter, make_llm

pytestmark = pytest.mark.llm

Q = [{"role": "user", "content": "Name a colour. One word."}]


def test_local_chat_usage_and_cache(tmp_path: Path) -> None:
    meter = UsageMeter()
    llm = make_llm("local", cache_dir=tmp_path / "c", meter=meter, stage="t", max_concurrency=4)

    async def go():  # type: ignore[no-untyped-def]
        return await llm.chat(Q, max_tokens=8), await llm.chat(Q, max_tokens=8)

    a, b = asyncio.run(go())
    assert a.content.strip() and "<|im_end|>" not in a.content and "<|im_start|>" not in a.content
    assert a.usage.completion_tokens > 0 and a.usage.calls == 1
    assert a.finish_reason in ("stop", "length")
    assert b.cached and b.content == a.content
    assert meter.by_stage["t"].calls == 1 and meter.cached["t"] == 1


def test_local_truncation_and_json_schema() -> None:
    llm = make_llm("local")
    # a bounded string: the grammar-constrained reply always closes within the token budget
    schema = {"type": "object", "properties": {"colour": {"type": "string", "maxLength": 20}}, "required": ["colour"]}

    async def go():  # type: ignore[no-untyped-def]
        cut = await llm.chat([{"role": "user", "content": "Write a long story about a dragon."}], max_tokens=4)
        js = await llm.chat(Q, json_schema=schema, max_tokens=64)
        return cut, js

    cut, js = asyncio.run(go())
    assert cut.finish_reason == "length" and cut.usage.completion_tokens == 4
    assert js.finish_reason == "stop", js.content
    colour = json.loads(js.content)["colour"]  # the schema was enforced: valid JSON with the required key
    assert isinstance(colour, str) and 0 < len(colour) <= 20


def test_local_shared_model_and_serialized_concurrency() -> None:
    from longtracerl.llm import llamacpp_backend as lb

    a, b = make_llm("local", stage="a"), make_llm("local", stage="b")
    prompts = [[{"role": "user", "content": f"Count to {i}."}] for i in range(3, 9)]

    async def together():  # type: ignore[no-untyped-def]
        return await asyncio.gather(*[(a if i % 2 else b).chat(p, max_tokens=6) for i, p in enumerate(prompts)])

    async def one_by_one():  # type: ignore[no-untyped-def]
        return [await a.chat(p, max_tokens=6) for p in prompts]

    outs = asyncio.run(together())
    assert len(outs) == 6 and all(o.usage.completion_tokens > 0 for o in outs)
    assert len([k for k in lb._MODELS if k[1] == 8192]) == 1  # one loaded model shared by both instances
    # concurrent calls from several coroutines give what serial calls give: the context was never shared
    assert [o.content for o in asyncio.run(one_by_one())] == [o.content for o in outs]


def test_process_exits_without_traceback(tmp_path: Path) -> None:
    """A script that uses the in-process model and just ends: no ``Llama.__del__`` traceback, no
    ResourceWarning (the model is freed by an atexit hook while the interpreter is still whole)."""
    import os
    import subprocess
    import sys

    code = ("import asyncio\nfrom longtracerl.llm import make_llm\n"
            "llm = make_llm('local', n_ctx=512)\n"
            "print(asyncio.run(llm.chat([{'role': 'user', 'content': 'Hi'}], max_tokens=2)).usage.calls)\n")
    r = subprocess.run([sys.executable, "-X", "dev", "-c", code], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONWARNINGS": "error::ResourceWarning"}, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == "1", r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "Exception ignored" not in r.stderr, r.stderr[-2000:]
