"""A scripted OpenAI-compatible endpoint for dry runs, resume tests and the runner benchmark.

It is NOT a model: each answer is a pure function of the request (so two runs agree), after ``delay``
seconds. Multiple-choice prompts get "The correct answer is (X)" with X from a hash of the prompt, judge
prompts get CORRECT/INCORRECT or "Decision: TRUE/FALSE" the same way, anything else an echo. A prompt
containing ``FAIL_ALWAYS`` gets HTTP 500 (to exercise retries and error rows).

    python -m longtracerl.eval.stub --port 8011 --delay 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
from typing import Any

from aiohttp import web


def answer_for(messages: list[dict[str, Any]]) -> str:
    text = "\n".join(str(m.get("content", "")) for m in messages)
    h = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
    if "CORRECT or INCORRECT" in text:
        return "CORRECT" if h % 2 else "INCORRECT"
    if "Decision: TRUE" in text:
        return "Checked.\nDecision: " + ("TRUE" if h % 2 else "FALSE")
    if "(A)" in text and "(D)" in text:
        return f"<think>thinking {h % 97}</think>\nThe correct answer is ({'ABCD'[h % 4]})"
    return f"answer {h % 1000}"


def make_app(delay: float = 0.0) -> web.Application:
    stats: dict[str, int] = {"requests": 0}

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        stats["requests"] += 1
        msgs = body.get("messages") or []
        if any("FAIL_ALWAYS" in str(m.get("content", "")) for m in msgs):
            return web.json_response({"error": {"message": "scripted failure"}}, status=500)
        if delay:
            await asyncio.sleep(delay)
        content = answer_for(msgs)
        return web.json_response({
            "id": "stub", "object": "chat.completion", "model": body.get("model", "stub"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(json.dumps(msgs)) // 4, "completion_tokens": len(content) // 4}})

    async def get_stats(_: web.Request) -> web.Response:
        return web.json_response(stats)

    async def models(_: web.Request) -> web.Response:
        return web.json_response({"data": [{"id": "stub"}]})

    app = web.Application(client_max_size=1 << 30)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/stats", get_stats)
    return app


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8011)
    ap.add_argument("--delay", type=float, default=0.0)
    a = ap.parse_args()
    web.run_app(make_app(a.delay), host=a.host, port=a.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
