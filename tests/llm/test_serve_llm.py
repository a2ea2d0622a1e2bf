"""``longtracerl serve-llm`` started as a subprocess, answering the project's own HTTP client."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from longtracerl.llm import LLMError, OpenAIChatLLM
from longtracerl.netutil import free_port, wait_http

pytestmark = pytest.mark.llm


def test_serve_llm_with_token() -> None:
    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "longtracerl"), "serve-llm", "--port", str(port),
                             "--api-key", "s3cret", "--n-ctx", "2048", "--alias", "tiny"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}/v1"
        wait_http(f"{base}/models", timeout=60, proc=proc)  # type: ignore[arg-type]
        assert "tiny" in httpx.get(f"{base}/models", headers={"Authorization": "Bearer s3cret"}).text

        async def go(key: str):  # type: ignore[no-untyped-def]
            llm = OpenAIChatLLM(base, key, "tiny", max_retries=0)
            try:
                return await llm.chat([{"role": "user", "content": "Say hi."}], max_tokens=6)
            finally:
                await llm.aclose()

        r = asyncio.run(go("s3cret"))
        assert r.content.strip() and r.usage.completion_tokens > 0
        with pytest.raises(LLMError) as e:
            asyncio.run(go("wrong"))
        assert "401" in str(e.value)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_bind_warning() -> None:
    from longtracerl.llm.commands import bind_warning

    assert bind_warning("127.0.0.1", None) is None and bind_warning("0.0.0.0", "tok") is None
    assert "without --api-key" in (bind_warning("0.0.0.0", None) or "")
