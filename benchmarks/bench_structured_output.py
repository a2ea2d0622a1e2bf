"""Structured output for the question writer: parse rate of the bundled SmolLM2-135M (in process, llama.cpp)
with the JSON schema sent as ``response_format`` (grammar-constrained decoding) and without it (free text
through the tolerant parser), on the same sample-world chains and seeds.

    python benchmarks/bench_structured_output.py     # BENCH_N=8 chains
"""

from __future__ import annotations

import asyncio
import os
import time

from longtracerl.corpus.docstore import DocStore
from longtracerl.corpus.sample_world import ensure_sample_world
from longtracerl.graph.sample import load_sample_graph
from longtracerl.graph.walk import WalkConfig, walk
from longtracerl.llm import make_llm
from longtracerl.records import Document
from longtracerl.synth.questions import LLMQuestionWriter

N = int(os.environ.get("BENCH_N", "8"))


async def run(structured: bool) -> None:
    ds = DocStore.open(ensure_sample_world().docstore_dir)
    chains = walk(load_sample_graph(), WalkConfig(n_walks=N, min_hops=2, max_hops=2)).chains
    writer = LLMQuestionWriter(make_llm("local"), max_tokens=200, structured=structured)
    parsed = with_clues = 0
    t0 = time.perf_counter()
    for i, c in enumerate(chains):
        docs: dict[str, Document] = {d.doc_id: d for h in c.hops if h.doc_id and (d := ds.get(h.doc_id))}
        draft, _raw, _ = await writer.adraft(c, docs, seed=i)
        parsed += draft is not None
        with_clues += draft is not None and len(draft.hop_clues) == len(c.hops)
    dt = time.perf_counter() - t0
    print(f"structured={structured!s:5} parsed {parsed}/{len(chains)} ({parsed / len(chains):.0%}), with one clue per "
          f"hop {with_clues}/{len(chains)}, {dt / len(chains):.1f} s/call")


def main() -> None:
    print(f"load: {os.getloadavg()}")
    asyncio.run(run(False))
    asyncio.run(run(True))


if __name__ == "__main__":
    main()
