"""One build, many context lengths: ``assemble --from`` against the build itself.

A build of ``--walks`` walks (default 200) on the bundled sample world at L = 128K, then
``longtracerl assemble --from`` that build at 16K, 32K, 64K and 128K, each in its own process (no token
counts carried over from one length to the next). For each length: wall-clock and CPU seconds against the
build's own assembly stage and against the whole build (the target: each under a quarter of the build),
samples kept and gold pages over L. Then the report stage's share of the build.

``--report-only RUN`` times the report stage alone on an existing run directory (rerun it with another
checkout on ``PYTHONPATH`` to compare the report before and after a change).

    .venv/bin/python benchmarks/bench_assemble.py [--walks 200] [--out DIR]
    .venv/bin/python benchmarks/bench_assemble.py --from-build DIR/b     # the lengths again, same build
    .venv/bin/python benchmarks/bench_assemble.py --report-only runs/default
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LENGTHS = [16384, 32768, 65536, 131072]


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _cli(*args: str) -> tuple[float, float]:
    """Run ``longtracerl ARGS`` in a child process; (wall seconds, CPU seconds of the child)."""
    cpu0, t0 = _cpu_children(), time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "longtracerl.cli", *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"longtracerl {' '.join(args)} failed:\n{r.stderr[-3000:]}")
    return time.perf_counter() - t0, _cpu_children() - cpu0


def _stages(run: Path) -> dict[str, float]:
    m = json.loads((run / "manifest.json").read_text())
    return {k: float(v["runs"][-1].get("seconds", 0.0)) for k, v in m["stages"].items()
            if v.get("runs") and not v.get("from_source")}


def _counts(run: Path) -> tuple[int, int]:
    samples = sum(1 for _ in (run / "samples.jsonl").open()) if (run / "samples.jsonl").exists() else 0
    over = sum(1 for x in (run / "rejected.jsonl").open() if '"gold_exceeds_budget"' in x) \
        if (run / "rejected.jsonl").exists() else 0
    return samples, over


def report_only(run: Path) -> None:
    """Time ``write_report`` on ``run`` in this process (wall and CPU)."""
    import yaml

    from longtracerl.config import BuildConfig
    from longtracerl.pipeline.context import RunContext
    from longtracerl.pipeline.report import write_report

    data = yaml.safe_load((run / "config.yaml").read_text())
    data = {k: v for k, v in data.items() if k in BuildConfig.model_fields} | {"out": str(run.parent), "name": run.name}
    ctx = RunContext(BuildConfig.model_validate(data), progress=False)
    c0, t0 = time.process_time(), time.perf_counter()
    write_report(ctx)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    st = _stages(run)
    total = sum(v for k, v in st.items() if k != "report") + wall
    html = run / "report" / "index.html"
    print(f"report of {run}: {wall:.1f} s wall, {cpu:.1f} s CPU; {100 * wall / total:.0f}% of the build's "
          f"{total:.1f} s with this report; index.html {html.stat().st_size / 1e6:.1f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--walks", type=int, default=200)
    ap.add_argument("--out", type=Path, default=None, help="parent of the runs [a temporary directory]")
    ap.add_argument("--lengths", type=int, nargs="+", default=LENGTHS)
    ap.add_argument("--report-only", type=Path, default=None)
    ap.add_argument("--from-build", type=Path, default=None,
                    help="reuse this finished build (its manifest's stage times stand for the build)")
    a = ap.parse_args()
    if a.report_only is not None:
        report_only(a.report_only)
        return
    if a.from_build is not None:
        out = a.from_build.parent
        st = _stages(a.from_build)
        wall = sum(st.values())
        _run_lengths(out, a.from_build.name, st, wall, a.lengths)
        return
    out = a.out or Path(tempfile.mkdtemp(prefix="bench-assemble-"))
    os.environ.setdefault("LONGTRACERL_HOME", str(out / "home"))
    _cli("build", "--out", str(out), "--name", "warm", "--n-chains", "1", "--quiet")  # sample world + tokenizer
    wall, cpu = _cli("build", "--out", str(out), "--name", "b", "--n-chains", str(a.walks), "--quiet")
    st = _stages(out / "b")
    n, over = _counts(out / "b")
    print(f"build of {a.walks} walks at L=131,072: {wall:.1f} s wall, {cpu:.1f} s CPU; {n} samples; stages (s): "
          + ", ".join(f"{k} {v:.1f}" for k, v in st.items()))
    _run_lengths(out, "b", st, wall, a.lengths)


def _run_lengths(out: Path, build: str, st: dict[str, float], wall: float, lengths: list[int]) -> None:
    print(f"report stage: {st.get('report', 0):.1f} s = {100 * st.get('report', 0) / wall:.0f}% of the build")
    print(f"| L | assemble --from wall s | CPU s | vs build's assembly stage ({st.get('assembly', 0):.1f} s) | "
          f"vs whole build ({wall:.0f} s) | its stages (s) | samples | gold over L |")
    print("|---|---|---|---|---|---|---|---|")
    for L in lengths:
        name = f"{build}-L{L}"
        w, c = _cli("assemble", "--from", str(out / build), "--max-tokens", str(L), "--name", name, "--quiet")
        s = _stages(out / name)
        n, over = _counts(out / name)
        print(f"| {L:,} | {w:.1f} | {c:.1f} | {w / max(st.get('assembly', 1e-9), 1e-9):.2f}x | "
              f"{100 * w / wall:.0f}% | " + ", ".join(f"{k} {v:.1f}" for k, v in s.items()) + f" | {n} | {over} |",
              flush=True)
    print(f"runs in {out}")


if __name__ == "__main__":
    main()
