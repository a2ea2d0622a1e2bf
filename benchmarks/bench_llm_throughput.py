"""Throughput of the bundled SmolLM2-135M: requests/s and generated tokens/s, in process (llama.cpp) and
through the HTTP server (``serve-llm`` / llama-cpp-python), at 1, 4 and 8 requests in flight.

Target (issue 4): the layer keeps the server busy, i.e. 8-in-flight throughput >= 1-in-flight throughput.
llama-cpp-python's server runs one llama.cpp context, so requests are serialized: expect a ratio near 1.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from longtracerl.llm import OpenAIChatLLM, make_llm
from longtracerl.netutil import free_port, wait_http

N_REQUESTS = int(os.environ.get("BENCH_N", "16"))
MAX_TOKENS = 32


def prompts(n: int) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": f"Write one sentence about the number {i}."}] for i in range(n)]


async def run(llm, in_flight: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    sem = asyncio.Semaphore(in_flight)
    toks = 0

    async def one(m):  # type: ignore[no-untyped-def]
        nonlocal toks
        async with sem:
            r = await llm.chat(m, max_tokens=MAX_TOKENS, temperature=0.7, seed=len(m[0]["content"]))
            toks += r.usage.completion_tokens

    t0 = time.perf_counter()
    await asyncio.gather(*(one(m) for m in prompts(N_REQUESTS)))
    dt = time.perf_counter() - t0
    if hasattr(llm, "aclose"):
        await llm.aclose()  # the HTTP session belongs to this event loop
    return N_REQUESTS / dt, toks / dt


def table(name: str, llm) -> None:  # type: ignore[no-untyped-def]
    res = {}
    for k in (1, 4, 8):
        res[k] = asyncio.run(run(llm, k))
        print(f"{name:10s} in_flight={k}: {res[k][0]:6.2f} req/s  {res[k][1]:7.1f} gen tok/s")
    print(f"{name:10s} 8-vs-1 ratio: {res[8][0] / res[1][0]:.2f} (target >= 1.0)")


def main() -> None:
    print(f"load: {os.getloadavg()}  requests per point: {N_REQUESTS}, max_tokens {MAX_TOKENS}")
    table("in-process", make_llm("local"))
    port = free_port()
    cli = str(Path(sys.executable).parent / "longtracerl")
    proc = subprocess.Popen([cli, "serve-llm", "--port", str(port), "--n-ctx", "4096"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/models", timeout=60, proc=proc)  # type: ignore[arg-type]
        table("http", OpenAIChatLLM(f"http://127.0.0.1:{port}/v1", model="smollm2", max_concurrency=8))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
