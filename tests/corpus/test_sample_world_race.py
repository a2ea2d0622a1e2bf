"""Several processes building the sample world (and its graph) at the same moment, as the Ray workers of one
node do on their first task: exactly one builds each, every process gets the same complete world."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import json, os, sys, time
from pathlib import Path
start, log = Path(sys.argv[1]), Path(sys.argv[2])
import longtracerl.corpus.sample_world as sw
import longtracerl.graph.sample as gs
from longtracerl.corpus.docstore import DocStore
from longtracerl.graph.store import Graph

def counted(fn, what):
    def wrapper(*a, **k):
        with log.open("a") as f:
            f.write(f"{what} {os.getpid()}\n")
        return fn(*a, **k)
    return wrapper

sw._build_sample_world = counted(sw._build_sample_world, "world")
gs.build_sample_graph = counted(gs.build_sample_graph, "graph")
(start.parent / f"ready-{os.getpid()}").touch()
while not start.exists():  # every process is imported and waiting: release them together
    time.sleep(0.01)
w = sw.ensure_sample_world(progress=False)
g = gs.ensure_sample_graph()
with DocStore.open(w.docstore_dir) as ds:
    n_docs = len(ds)
graph = Graph.load(g)
print(json.dumps({"root": str(w.root), "n_docs": n_docs, "world_n_docs": w.n_docs, "graph": str(g),
                  "nodes": len(graph.titles), "fingerprint": graph.meta.get("fingerprint") is not None}))
"""


def test_concurrent_first_use_builds_once(tmp_path: Path) -> None:
    env = {**os.environ, "LONGTRACERL_HOME": str(tmp_path / "home")}
    start, log = tmp_path / "go", tmp_path / "builds.log"
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(start), str(log)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    t0 = time.time()
    while len(list(tmp_path.glob("ready-*"))) < len(procs):  # all four wait at the line: the race is real
        assert time.time() - t0 < 120 and all(p.poll() is None for p in procs), "a child never got ready"
        time.sleep(0.05)
    start.touch()
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err[-3000:]
        outs.append(json.loads(out.strip().splitlines()[-1]))
    builds = log.read_text().split()
    assert builds.count("world") == 1, builds  # one process built the world, the others waited and read it
    assert builds.count("graph") == 1, builds
    assert all(o == outs[0] for o in outs), outs
    assert outs[0]["n_docs"] == outs[0]["world_n_docs"] > 100 and outs[0]["nodes"] > 100
    left = sorted(p.name for p in Path(outs[0]["root"]).parent.iterdir())
    assert not [n for n in left if ".tmp-" in n or ".old-" in n], left  # no half-built or stale directory
    assert not [n for n in os.listdir(outs[0]["root"]) if n.startswith(("graph.tmp", "graph.old"))], "graph temp dir left"
