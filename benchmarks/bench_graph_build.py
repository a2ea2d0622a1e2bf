"""Graph build from synthetic KILT-style JSONL: seconds and peak memory.

    .venv/bin/python benchmarks/bench_graph_build.py [--records 1000000] [--anchors 10]

Writes ``--records`` KILT knowledge-source lines (``wikipedia_id``, ``wikipedia_title``, two short
paragraphs, ``anchors`` with ``href``/``wikipedia_title``/``wikipedia_id``; ~3% of the links point to
pages absent from the file, some anchors carry only an ``href``) to a temporary directory, then builds
the hyperlink graph in a child process and reports its wall time and peak RSS (ru_maxrss).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHILD = """
import json, resource, sys, time
from longtracerl.graph.build import GraphBuilder
t = time.perf_counter()
b = GraphBuilder()
st = b.add_kilt(sys.argv[1])
t_read = time.perf_counter() - t
g = b.build(sys.argv[2])
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "read_seconds": t_read, "records": st.records, "nodes": g.n_nodes,
                  "edges": g.n_edges, "counts": g.meta["counts"],
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def generate(path: Path, n: int, anchors: int, seed: int = 0) -> None:
    """KILT-style records; link targets are Zipf-skewed (a few pages are linked very often)."""
    try:
        import orjson

        def dumps(o: object) -> bytes:
            return orjson.dumps(o)
    except ImportError:  # pragma: no cover

        def dumps(o: object) -> bytes:
            return json.dumps(o).encode()

    rng = np.random.default_rng(seed)
    words = ["alpha", "beta", "gamma", "delta", "river", "city", "film", "born", "league", "album"]
    with path.open("wb") as f:
        block = 10_000
        for b0 in range(0, n, block):
            b1 = min(n, b0 + block)
            k = rng.poisson(anchors, b1 - b0)
            tgt = np.minimum((n * 1.03 * rng.random(int(k.sum())) ** 2).astype(np.int64), int(n * 1.03))
            kind = rng.random(int(k.sum()))
            j = 0
            for i in range(b0, b1):
                title = f"Page {i}"
                links = []
                for _ in range(k[i - b0]):
                    t, u = int(tgt[j]), kind[j]
                    j += 1
                    href = f"Page%20{t}"
                    if u < 0.9:
                        links.append({"paragraph_id": 1, "start": 0, "end": 4, "text": "page", "href": href,
                                      "wikipedia_title": f"Page {t}", "wikipedia_id": str(t)})  # fmt: skip
                    else:
                        links.append({"paragraph_id": 1, "start": 0, "end": 4, "text": "page", "href": href})
                text = [title + "\n", f"{title} is a {words[i % 10]} of the {words[(i // 10) % 10]}.\n"]
                f.write(dumps({"_id": str(i), "wikipedia_id": str(i), "wikipedia_title": title, "text": text,
                               "anchors": links}) + b"\n")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--anchors", type=int, default=10, help="mean anchors per page (Poisson)")
    args = ap.parse_args()
    print(f"load: {os.getloadavg()[0]:.2f} (1-min average; {os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "kilt.jsonl"
        t = time.perf_counter()
        generate(src, args.records, args.anchors)
        print(f"generated {args.records:,} KILT records ({src.stat().st_size / 1e9:.2f} GB) "
              f"in {time.perf_counter() - t:.1f} s")  # fmt: skip
        out = subprocess.run([sys.executable, "-c", CHILD, str(src), str(Path(tmp) / "graph")],
                             capture_output=True, text=True, check=True)  # fmt: skip
        r = json.loads(out.stdout.strip().splitlines()[-1])
        c = r["counts"]
        size = sum(p.stat().st_size for p in (Path(tmp) / "graph").iterdir())
        print(f"build: {r['records']:,} pages -> {r['nodes']:,} nodes, {r['edges']:,} edges "
              f"({c['kilt_anchors']:,} anchors; {c['edges_to_missing_pages']:,} to missing pages, "
              f"{c['self_links_dropped']:,} self-links, {c['duplicate_edges_dropped']:,} duplicates dropped)")  # fmt: skip
        print(f"build time: {r['seconds']:.1f} s ({r['read_seconds']:.1f} s reading; "
              f"{r['records'] / r['seconds']:,.0f} pages/s)")  # fmt: skip
        print(f"peak memory (ru_maxrss of the build process): {r['maxrss_mb']:,.0f} MB")
        print(f"graph on disk: {size / 1e6:,.0f} MB")


if __name__ == "__main__":
    main()
