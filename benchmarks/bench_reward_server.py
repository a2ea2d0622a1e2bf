"""Reward server under load from a separate process (issue 2).

1. Rule outcome: N /evaluate requests (default 10,000) with 8K-token responses at concurrency 64:
   requests/s, p50/p99 latency, errors. Targets: >= 300 req/s, 0 errors.
2. LLM judge that answers in 500 ms (a local latency-injecting OpenAI-compatible stub: the point is to
   show that the server overlaps judge calls, not to judge): 1,000 requests at concurrency 128 must
   finish within 1.5 x the ideal 1000 / 128 x 0.5 s.

    .venv/bin/python benchmarks/bench_reward_server.py [--quick] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

from longtracerl.netutil import free_port, wait_http

HERE = os.path.abspath(__file__)


def payload(i: int, words: int, rng: random.Random) -> dict:  # type: ignore[type-arg]
    vocab = "the river city born capital film university war album league of and in to a was".split()
    body = " ".join(rng.choice(vocab) for _ in range(words))
    return {"label": "Lyon", "extra_reward_info": {
        "question": f"Question number {i}?", "rubrics": ["Paris", "France", "Rhone", "Lyon", "Europe"],
        "dataset_name": "longqa", "rubric_reward_ratio": 0.3, "rubric_use_content": True,
        "rubric_use_reasoning_content": False},
        "history": [{"role": "user", "content": "q"},
                    {"role": "assistant", "content": f"{body} Paris France answer {i}: Lyon"}]}


async def drive(url: str, n: int, concurrency: int, words: int, token: str | None) -> dict:  # type: ignore[type-arg]
    import aiohttp

    rng = random.Random(0)
    distinct = n if words <= 500 else min(n, 200)  # judge runs: every request distinct (no cache hits)
    bodies = [json.dumps(payload(i, words, rng)).encode() for i in range(distinct)]
    lat: list[float] = []
    errors = 0
    headers = {"content-type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    q = iter(range(n))
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn, headers=headers) as s:
        async def worker() -> None:
            nonlocal errors
            for i in q:
                t = time.perf_counter()
                try:
                    async with s.post(url, data=bodies[i % len(bodies)]) as r:
                        await r.read()
                        if r.status != 200:
                            errors += 1
                except aiohttp.ClientError:
                    errors += 1
                lat.append(time.perf_counter() - t)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    lat.sort()
    return {"n": n, "wall": wall, "rps": n / wall, "p50_ms": 1000 * statistics.median(lat),
            "p99_ms": 1000 * lat[int(0.99 * (len(lat) - 1))], "errors": errors}


ANSWER = json.dumps({"id": "x", "object": "chat.completion", "model": "stub", "choices": [
    {"index": 0, "message": {"role": "assistant", "content": "extracted_final_answer: Lyon\nreasoning: same\ncorrect: yes"},
     "finish_reason": "stop"}], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}).encode()


async def stub_app(scope, receive, send):  # type: ignore[no-untyped-def]
    """A bare ASGI OpenAI-compatible stub that answers every chat completion after 500 ms."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await asyncio.sleep(0.5)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": ANSWER})


def start(cmd: list[str], health: str, env: dict | None = None) -> subprocess.Popen:  # type: ignore[type-arg]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env)
    wait_http(health, timeout=60, proc=p)  # type: ignore[arg-type]
    return p


def client_process(url: str, n: int, c: int, words: int, token: str | None) -> dict:  # type: ignore[type-arg]
    """Run the load in a separate process, as a real trainer would be."""
    out = subprocess.run([sys.executable, HERE, "--client", url, "--n", str(n), "--concurrency", str(c),
                          "--words", str(words), "--token", token or ""], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--client")
    ap.add_argument("--stub-port", type=int)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--words", type=int, default=6000, help="about 8K tokens")
    ap.add_argument("--token", default="")
    a = ap.parse_args()
    if a.client:
        print(json.dumps(asyncio.run(drive(a.client, a.n, a.concurrency, a.words, a.token or None))))
        return
    if a.stub_port:
        import uvicorn

        uvicorn.run(stub_app, host="127.0.0.1", port=a.stub_port, log_level="error", access_log=False)
        return

    cli = [sys.executable, "-m", "longtracerl.cli", "serve-reward"]
    n_rule = 2000 if a.quick else 10000
    port = free_port()
    srv = start([*cli, "--port", str(port), "--workers", str(a.workers), "--token", "bench"],
                f"http://127.0.0.1:{port}/health")
    try:
        r = client_process(f"http://127.0.0.1:{port}/evaluate", n_rule, 64, a.words, "bench")
    finally:
        srv.terminate()
        srv.wait()
    print(f"rule outcome: {r['n']} requests of ~8K tokens at concurrency 64, {a.workers} server worker(s)")
    print(f"  {r['rps']:.0f} req/s (target >= 300)   p50 {r['p50_ms']:.1f} ms   p99 {r['p99_ms']:.1f} ms   "
          f"errors {r['errors']} (target 0)")

    n_judge = 1000
    sport, jport = free_port(), free_port()
    stub = start([sys.executable, HERE, "--stub-port", str(sport)], f"http://127.0.0.1:{sport}/v1/models")
    env = {**os.environ, "LONGTRACERL_HOME": tempfile.mkdtemp()}  # fresh judge cache: every call really waits
    srv = start([*cli, "--port", str(jport), "--outcome", "judge", "--judge-base-url", f"http://127.0.0.1:{sport}/v1",
                 "--judge-model", "stub"], f"http://127.0.0.1:{jport}/health", env=env)
    try:
        r = client_process(f"http://127.0.0.1:{jport}/evaluate", n_judge, 128, 200, None)
    finally:
        srv.terminate()
        stub.terminate()
        srv.wait()
        stub.wait()
    ideal = n_judge / 128 * 0.5
    print(f"judge outcome (500 ms stub judge): {n_judge} requests at concurrency 128")
    print(f"  {r['wall']:.2f} s wall, ideal {ideal:.2f} s, ratio {r['wall'] / ideal:.2f} (target <= 1.5)   "
          f"p50 {r['p50_ms']:.0f} ms   errors {r['errors']}")


if __name__ == "__main__":
    main()
