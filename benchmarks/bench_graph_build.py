"""Graph build from synthetic KILT-style JSONL: seconds and peak memory.

    .venv/bin/python benchmarks/bench_graph_build.py [--records 1000000] [--anchors 10] [--mentions]
        [--before REF] [--repeat N]

``--mentions`` also scans every page's text for title mentions (``GraphBuilder.add_mentions``; each text
names a few of the pages it links, as Wikipedia text does). ``--before REF`` runs the same build a second
time with the package as it was at git ref ``REF`` (``git archive``), on the same file, and prints both.

Writes ``--records`` KILT knowledge-source lines (``wikipedia_id``, ``wikipedia_title``, two short
paragraphs, ``anchors`` with ``href``/``wikipedia_title``/``wikipedia_id``; ~3% of the links point to
pages absent from the file, some anchors carry only an ``href``) to a temporary directory, then builds
the hyperlink graph in a child process and reports its wall time and peak RSS (ru_maxrss).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

CHILD = """
import json, resource, sys, time
from longtracerl.graph.build import GraphBuilder
from longtracerl.records import Document

class Pages:  # the KILT file's pages as Documents, streamed (iterated twice by add_mentions)
    def __iter__(self):
        with open(sys.argv[1], "rb") as f:
            for line in f:
                o = json.loads(line)
                yield Document(doc_id=o["wikipedia_id"], title=o["wikipedia_title"], text="".join(o["text"][1:]))

t = time.perf_counter()
b = GraphBuilder()
st = b.add_kilt(sys.argv[1])
t_read = time.perf_counter() - t
t_m = 0.0
if sys.argv[3] == "1":
    t0 = time.perf_counter()
    b.add_mentions(Pages())
    t_m = time.perf_counter() - t0
g = b.build(sys.argv[2])
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "read_seconds": t_read, "mention_seconds": t_m, "records": st.records, "nodes": g.n_nodes,
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
                named = ", ".join(f"Page {int(t)}" for t in tgt[j - k[i - b0]: j][:3])  # a few linked pages, named
                text = [title + "\n", f"{title} is a {words[i % 10]} of the {words[(i // 10) % 10]}. "
                        f"It is near {named or 'nothing'}. The {words[(i // 7) % 10]} is old.\n"]
                f.write(dumps({"_id": str(i), "wikipedia_id": str(i), "wikipedia_title": title, "text": text,
                               "anchors": links}) + b"\n")  # fmt: skip


def _run(src: Path, graph: Path, mentions: bool, pythonpath: str | None) -> dict[str, Any]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    out = subprocess.run([sys.executable, "-c", CHILD, str(src), str(graph), "1" if mentions else "0"],
                         capture_output=True, text=True, check=True, env=env)  # fmt: skip
    r: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    r["size"] = sum(p.stat().st_size for p in graph.iterdir())
    shutil.rmtree(graph)
    return r


def _print(label: str, r: dict[str, Any]) -> None:
    c = r["counts"]
    print(f"[{label}] build: {r['records']:,} pages -> {r['nodes']:,} nodes, {r['edges']:,} edges "
          f"({c['kilt_anchors']:,} anchors; {c['edges_to_missing_pages']:,} to missing pages, "
          f"{c['self_links_dropped']:,} self-links, {c['duplicate_edges_dropped']:,} duplicates dropped; "
          f"{c.get('mention_edges', 0):,} mention edges)")  # fmt: skip
    print(f"[{label}] build time: {r['seconds']:.1f} s ({r['read_seconds']:.1f} s reading, "
          f"{r['mention_seconds']:.1f} s mentions; {r['records'] / r['seconds']:,.0f} pages/s)")  # fmt: skip
    print(f"[{label}] peak memory (ru_maxrss of the build process): {r['maxrss_mb']:,.0f} MB")
    print(f"[{label}] graph on disk: {r['size'] / 1e6:,.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--anchors", type=int, default=10, help="mean anchors per page (Poisson)")
    ap.add_argument("--mentions", action="store_true", help="also scan the texts for title mentions")
    ap.add_argument("--before", default=None, help="git ref: also build with the package as it was there")
    ap.add_argument("--repeat", type=int, default=1, help="builds of each (alternating); the fastest is compared")
    args = ap.parse_args()
    print(f"load: {os.getloadavg()[0]:.2f} (1-min average; {os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "kilt.jsonl"
        t = time.perf_counter()
        generate(src, args.records, args.anchors)
        print(f"generated {args.records:,} KILT records ({src.stat().st_size / 1e9:.2f} GB) "
              f"in {time.perf_counter() - t:.1f} s")  # fmt: skip
        runs: list[tuple[str, str | None]] = [("now", None)]
        if args.before:
            old = Path(tmp) / "before"
            old.mkdir()
            repo = Path(__file__).resolve().parents[1]
            tar = subprocess.run(["git", "-C", str(repo), "archive", args.before, "src"], capture_output=True,
                                 check=True).stdout  # fmt: skip
            subprocess.run(["tar", "-x", "-C", str(old)], input=tar, check=True)
            runs.insert(0, (f"before ({args.before})", str(old / "src")))
        res: dict[str, dict[str, Any]] = {}
        for rep in range(args.repeat):  # alternating, so a change of machine load hits both sides
            for label, pp in runs:
                r = _run(src, Path(tmp) / "graph", args.mentions, pp)
                _print(f"{label} #{rep + 1}", r)
                if label not in res or r["seconds"] < res[label]["seconds"]:
                    res[label] = r
        if args.before:
            a, b = res[runs[0][0]], res["now"]
            print("fastest run of each:")
            scan = (f"mention scan x{b['mention_seconds'] / max(a['mention_seconds'], 1e-9):.2f}, "
                    if args.mentions else "")
            print(f"now / before: build time x{b['seconds'] / a['seconds']:.2f}, {scan}"
                  f"peak memory x{b['maxrss_mb'] / a['maxrss_mb']:.2f}")


if __name__ == "__main__":
    main()
