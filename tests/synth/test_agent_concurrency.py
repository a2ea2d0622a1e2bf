"""``agent.concurrency`` really scales: the agents' tools run off the event loop.

A REAL search server (``corpus.server.create_search_app`` over the bundled sample world's tantivy index,
served by uvicorn on 127.0.0.1) is reached through the real ``RemoteSearch``. The ONLY fake is a fault
injection: an ASGI wrapper that delays every ``/search`` and ``/open`` by ``DELAY`` seconds (asyncio.sleep,
so the server itself serves requests concurrently, as a loaded cluster index would) and logs when each
request was in flight. Agents, collect stage, HTTP clients, index and LLM server are the real ones.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from longtracerl.corpus.remote import RemoteSearch
from longtracerl.netutil import free_port, wait_http
from longtracerl.records import Chain, Hop, Question, WriterInfo
from longtracerl.reward import get_outcome_scorer
from longtracerl.synth.agent import ChainGuidedAgent, ClueSolver, collect_trajectories

DELAY = 0.3


class DelayedSearch:
    """FAULT INJECTION (the one fake): delays ``/search`` and ``/open`` and records their (start, end)."""

    def __init__(self, app: Any, delay: float) -> None:
        self.app = app
        self.delay = delay
        self.spans: list[tuple[float, float]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") not in ("/search", "/open"):
            return await self.app(scope, receive, send)
        t0 = time.monotonic()
        await asyncio.sleep(self.delay)
        await self.app(scope, receive, send)
        self.spans.append((t0, time.monotonic()))


@pytest.fixture(scope="module")
def world() -> Any:
    from longtracerl.corpus.sample_world import ensure_sample_world

    return ensure_sample_world(progress=False)


@pytest.fixture()
def slow_search(world: Any) -> Iterator[tuple[str, DelayedSearch]]:
    import uvicorn

    from longtracerl.corpus.docstore import DocStore
    from longtracerl.corpus.search import TantivySearch
    from longtracerl.corpus.server import create_search_app

    store = DocStore.open(world.docstore_dir)
    app = DelayedSearch(create_search_app(TantivySearch.load(world.index_dir, store)), DELAY)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=30)
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        t.join(timeout=10)
        store.close()


def _questions(world: Any, n: int) -> tuple[list[Question], dict[str, Chain]]:
    """``n`` two-hop questions (country -> a neighbour, ask its capital) from the sample world's triples."""
    triples = [json.loads(x) for x in Path(world.triples_path).read_text().splitlines() if x.strip()]
    capital = {t["subject_doc_id"]: t["object"] for t in triples if t["relation"] == "capital"}
    qs, chains = [], {}
    for t in triples:
        if t["relation"] != "shares a border with" or t["object_doc_id"] not in capital:
            continue
        if any(q.gold_doc_ids[0] == t["subject_doc_id"] for q in qs):
            continue
        cid = f"c{len(qs)}"
        chains[cid] = Chain(chain_id=cid, seed=0, hops=[
            Hop(entity_id=t["subject_doc_id"], title=t["subject"], doc_id=t["subject_doc_id"]),
            Hop(entity_id=t["object_doc_id"], title=t["object"], doc_id=t["object_doc_id"], relation=t["relation"])])
        qs.append(Question(question_id=f"q{len(qs)}", chain_id=cid, answer=capital[t["object_doc_id"]],
                           question=f'Start with the entity described thus: "{t["subject"]}". Next, go to an entity '
                                    f'it shares a border with, namely the one described thus: "{t["object"]}". '
                                    "What is the capital of the last entity?",
                           gold_entities=[t["subject"], t["object"]],
                           gold_doc_ids=[t["subject_doc_id"], t["object_doc_id"]], writer=WriterInfo(backend="test")))
        if len(qs) == n:
            break
    assert len(qs) == n
    return qs, chains


async def _collect_with_probe(questions: list[Question], agent: Any, tmp: Path, concurrency: int
                              ) -> tuple[float, float]:
    """Run the agent stage; return (wall seconds, longest stall of the event loop meanwhile)."""
    stalls: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:  # ticks every 10 ms; a blocked loop shows up as a long gap between ticks
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            stalls.append(now - last)
            last = now

    ticker = asyncio.create_task(probe())
    t0 = time.monotonic()
    await collect_trajectories(questions, agent, get_outcome_scorer("contains"), tmp / "t.jsonl", tmp / "r.jsonl",
                               attempts=1, concurrency=concurrency, progress=False)
    wall = time.monotonic() - t0
    done.set()
    await ticker
    return wall, max(stalls, default=0.0)


@pytest.mark.parametrize("kind", ["chain_guided", "solver"])
def test_concurrent_questions_take_about_one_question_of_delays(
        kind: str, world: Any, slow_search: tuple[str, DelayedSearch], tmp_path: Path) -> None:
    url, server = slow_search
    questions, chains = _questions(world, 8)
    remote = RemoteSearch(url)
    agent: Any = (ChainGuidedAgent(remote, chains.get, k=5, open_top=1, seed=0) if kind == "chain_guided"
                  else ClueSolver(remote, k=5, open_per_step=2, workers=8))
    try:
        wall, stall = asyncio.run(_collect_with_probe(questions, agent, tmp_path, concurrency=8))
    finally:
        remote.close()
    trajs = [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()]
    # the tools really went to the server: every step of every question is one delayed request
    steps = [sum(1 for s in t["steps"] if s["kind"] in ("search", "open")) for t in trajs]
    assert len(server.spans) >= sum(steps) > 0
    serial = len(server.spans) * DELAY  # what the blocking client cost: one request at a time
    longest = max(steps) * DELAY  # the longest question alone
    print(f"{kind}: {len(server.spans)} requests, wall {wall:.2f}s, serial {serial:.2f}s, "
          f"longest question {longest:.2f}s, loop stall {stall * 1000:.0f} ms")
    # 8 questions at once cost about what the longest one costs alone, not the sum of all (the old blocking
    # client: wall >= serial); the margin is for a loaded 2-core machine
    assert wall < 0.35 * serial, (wall, serial)
    assert wall < 2 * longest, (wall, longest)
    # a request in flight never held the loop: it kept ticking (a blocking search stalls it >= DELAY each time;
    # what remains is GIL sharing with the solver's threads and the in-process server)
    assert stall < DELAY, stall
    # the requests overlapped at the server
    spans = sorted(server.spans)
    assert any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False))


@pytest.mark.llm
def test_llm_requests_proceed_while_a_search_is_in_flight(
        llm_server: str, world: Any, slow_search: tuple[str, DelayedSearch], tmp_path: Path) -> None:
    """Real bundled model (llama.cpp server) asked while the agent stage waits on the delayed search server:
    whole LLM round trips complete inside one search's time in flight, which a blocked loop cannot do."""
    from longtracerl.llm.openai_backend import OpenAIChatLLM

    url, server = slow_search
    server.delay = 2.0  # longer than one short completion of the 135M model on a loaded 2-core machine
    questions, chains = _questions(world, 4)
    remote = RemoteSearch(url)
    llm = OpenAIChatLLM(llm_server, model="smollm2", timeout=60)
    calls: list[tuple[float, float]] = []

    async def main() -> None:
        await llm.chat([{"role": "user", "content": "Say hi."}], max_tokens=1, temperature=0.0)  # warm the model
        stage = asyncio.create_task(collect_trajectories(
            questions, ChainGuidedAgent(remote, chains.get, k=5, open_top=1, seed=0), get_outcome_scorer("contains"),
            tmp_path / "t.jsonl", tmp_path / "r.jsonl", attempts=1, concurrency=4, progress=False))
        await asyncio.sleep(0.2)  # the first searches are in flight
        while not stage.done():
            t0 = time.monotonic()
            await llm.chat([{"role": "user", "content": "Say hi."}], max_tokens=1, temperature=0.0)
            calls.append((t0, time.monotonic()))
            await asyncio.sleep(0.05)
        await stage
        await llm.aclose()

    try:
        asyncio.run(main())
    finally:
        remote.close()
    assert calls and server.spans
    inside = [c for c in calls if any(s <= c[0] and c[1] <= e for s, e in server.spans)]
    print(f"{len(calls)} LLM calls during the stage, {len(inside)} entirely inside a search in flight")
    assert inside, (calls[:5], server.spans[:5])
