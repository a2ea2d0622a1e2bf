"""Question synthesis on the sample world (CIA World Factbook): questions accepted per minute, acceptance
rate, LLM calls per accepted question and the rejection-reason histogram, for the template writer and
for the bundled SmolLM2-135M (in process). Target: the template writer accepts most chains; the bundled
model accepts SOME (it is a 135M model); a strong model behind --llm openai should accept far more."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from longtracerl.corpus.docstore import DocStore
from longtracerl.corpus.sample_world import ensure_sample_world
from longtracerl.graph.sample import load_sample_graph
from longtracerl.graph.walk import WalkConfig, walk
from longtracerl.llm import make_llm
from longtracerl.synth.questions import LLMQuestionWriter, TemplateQuestionWriter, write_questions

N_TEMPLATE = int(os.environ.get("BENCH_N_TEMPLATE", "200"))
N_LLM = int(os.environ.get("BENCH_N_LLM", "8"))


def bench(name: str, writer: object, n: int, tmp: Path) -> None:
    ds = DocStore.open(ensure_sample_world().docstore_dir)
    chains = walk(load_sample_graph(), WalkConfig(n_walks=n, min_hops=2, max_hops=3)).chains
    t0 = time.perf_counter()
    st = asyncio.run(write_questions(chains, ds, writer, tmp / f"{name}.jsonl", tmp / f"{name}.rej.jsonl",
                                     concurrency=8, progress=False))
    dt = time.perf_counter() - t0
    per_call = st.llm_calls / st.accepted if st.accepted else float("nan")
    print(f"{name:9s} chains={len(chains)} accepted={st.accepted} ({st.accepted / max(1, len(chains)):.0%}) "
          f"{st.accepted / dt * 60:8.1f} accepted/min  LLM calls/accepted={per_call:.2f}  {dt:.1f} s")
    print(f"{name:9s} rejection reasons: {dict(sorted(st.reasons.items(), key=lambda kv: -kv[1]))}")


def main() -> None:
    print(f"load: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as d:
        from longtracerl.corpus.search import TantivySearch
        from longtracerl.synth.questions.clues import ClueContext

        sw = ensure_sample_world()
        ds = DocStore.open(sw.docstore_dir)
        clues = ClueContext(ds, load_sample_graph(), TantivySearch.load(sw.index_dir, ds))
        bench("template", TemplateQuestionWriter(clues), N_TEMPLATE, Path(d))
        bench("smollm2", LLMQuestionWriter(make_llm("local")), N_LLM, Path(d))


if __name__ == "__main__":
    main()
