"""Eval benchmarks (issue 8). Prints:

1. runner overhead: 1,000 requests at concurrency 64 against a scripted local endpoint that answers in
   200 ms (longtracerl.eval.stub in its own process); ideal wall = ceil(1000/64) x 0.2 s; target <= 1.2x;
2. scoring throughput on 100 MRCR-sized (100K-character) responses, per scorer;
3. middle truncation of a ~200K-token prompt (bundled tokenizer) to 128K tokens vs one tokenizer pass over it.

    python benchmarks/bench_eval.py [--requests 1000] [--concurrency 64] [--delay 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def bench_runner(n: int, conc: int, delay: float) -> None:
    from longtracerl.eval.runner import EvalConfig, make_models, run_async
    from longtracerl.llm.tokenizers import load_tokenizer
    from longtracerl.netutil import free_port, wait_http

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "longtracerl.eval.stub", "--port", str(port), "--delay", str(delay)],
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/models", timeout=30, proc=proc)
        with tempfile.TemporaryDirectory() as td:
            data = Path(td) / "data.json"
            data.write_text(json.dumps([{
                "_id": f"x{i}", "domain": "d", "sub_domain": "s", "difficulty": "easy", "length": "short",
                "question": f"question {i}?", "choice_A": "a", "choice_B": "b", "choice_C": "c", "choice_D": "d",
                "answer": "A", "context": f"context {i} " * 50} for i in range(n)]))
            cfg = EvalConfig(bench="longbench-v2", data=str(data), out=str(Path(td) / "run"), base_url=f"http://127.0.0.1:{port}/v1",
                             model="stub", concurrency=conc, max_tokens=64, progress=False)
            tok = load_tokenizer()
            # reference: the bare LLM layer (same endpoint, same concurrency, no runner around it)
            bare = make_models(cfg)[0]

            async def bare_run() -> None:
                sem = asyncio.Semaphore(conc)

                async def one(i: int) -> None:
                    async with sem:
                        await bare.chat([{"role": "user", "content": f"bare {i} (A) x (D) y"}], temperature=0.6,
                                        max_tokens=8)
                try:
                    await asyncio.gather(*(one(i) for i in range(n)))
                finally:
                    await bare.aclose()  # type: ignore[attr-defined]

            t0 = time.perf_counter()
            asyncio.run(bare_run())
            bare_wall = time.perf_counter() - t0
            llm, judge = make_models(cfg)

            async def go() -> dict:  # type: ignore[type-arg]
                try:
                    return await run_async(cfg, llm, judge, tok)
                finally:
                    await llm.aclose()  # type: ignore[attr-defined]

            t0, c0 = time.perf_counter(), time.process_time()
            stats = asyncio.run(go())
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            rows = len((Path(td) / "run" / "results.jsonl").read_text().splitlines())
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    ideal = math.ceil(n / conc) * delay
    print(f"[runner] bare LLM layer (no runner): {n} requests in {bare_wall:.2f} s ({bare_wall / ideal:.2f}x ideal)")
    print(f"[runner] {rows} rows ({stats['errors']} errors), concurrency {conc}, stub delay {delay * 1000:.0f} ms: "
          f"wall {wall:.2f} s, ideal {ideal:.2f} s, ratio {wall / ideal:.2f}x (target <= 1.2x), "
          f"{wall / bare_wall:.2f}x the bare LLM layer; runner CPU {cpu:.2f} s "
          f"({1000 * cpu / max(1, rows):.2f} ms per request), load average {os.getloadavg()[0]:.1f}")


def bench_scoring(n: int = 100, size: int = 100_000) -> None:
    from longtracerl.eval.bench_rules import (
        choice_letter,
        final_answer,
        longbench_v2_choice,
        mrcr_final,
        mrcr_grade,
    )

    # natural text: the AA-LCR documents when the package is installed (difflib's cost depends on the text;
    # a tiny synthetic vocabulary is far slower than prose), else generated words
    try:
        from longtracerl.eval.loaders import load_items

        corpus = "".join(it.fields["documents"] for _, it in zip(range(3), load_items("aa-lcr"), strict=False))
        source = "AA-LCR documents"
    except Exception:
        rng0 = random.Random(0)
        corpus = " ".join(f"w{rng0.randrange(20000)}" for _ in range(400_000))
        source = "generated words"
    rng = random.Random(0)

    def text(k: int) -> str:
        start = rng.randrange(0, max(1, len(corpus) - k))
        return corpus[start:start + k]

    prefix = "Xq9Zr2"
    answers = [prefix + text(5_000) for _ in range(n)]
    responses = [f"<think>{text(2_000)}</think>" + prefix + text(size) for _ in range(n)]
    print(f"[scoring] texts from {source}; answers 5K chars")
    for name, fn in [
        ("mrcr_grade (difflib, 100K vs 5K chars)", lambda r, a: mrcr_grade(mrcr_final(r), a, prefix)),
        ("longbench_v2_choice", lambda r, a: longbench_v2_choice(final_answer(r)[0])),
        ("choice_letter", lambda r, a: choice_letter(final_answer(r)[0])),
    ]:
        t0 = time.perf_counter()
        for r, a in zip(responses, answers, strict=True):
            fn(r, a)
        dt = time.perf_counter() - t0
        print(f"[scoring] {name}: {n} responses of {size // 1000}K chars in {dt:.2f} s "
              f"({1000 * dt / n:.1f} ms each, {n / dt:.1f}/s)")


def bench_truncation(target: int = 128_000) -> None:
    from longtracerl.eval.truncate import middle_truncate
    from longtracerl.llm.tokenizers import count_tokens, load_tokenizer

    tok = load_tokenizer()
    rng = random.Random(1)
    vocab = [f"w{i}" for i in range(5000)] + ["the", "of", "and", "river", "city", "born", "1901"]
    text = " ".join(rng.choice(vocab) for _ in range(42_000))
    t0 = time.perf_counter()
    n = count_tokens(tok, text)
    one_pass = time.perf_counter() - t0
    t0 = time.perf_counter()
    cut, before, after = middle_truncate(tok, text, target)
    trunc = time.perf_counter() - t0
    print(f"[truncation] prompt of {before} tokens ({len(text) // 1000}K chars) -> {after} tokens: middle truncation "
          f"{trunc:.2f} s vs one tokenizer pass {one_pass:.2f} s ({trunc / one_pass:.2f}x); count check {n == before}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--delay", type=float, default=0.2)
    ap.add_argument("--parts", default="runner,scoring,truncation")
    a = ap.parse_args()
    parts = a.parts.split(",")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    if "runner" in parts:
        bench_runner(a.requests, a.concurrency, a.delay)
    if "scoring" in parts:
        bench_scoring()
    if "truncation" in parts:
        bench_truncation()


if __name__ == "__main__":
    main()
