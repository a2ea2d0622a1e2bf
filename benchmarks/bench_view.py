"""The viewer on a large run: page write time and size, browser load time, ``view`` server latency.

Takes a finished build (default ``runs/default``; make one with ``longtracerl build``) and writes a copy
with its records replicated ``--copies`` times under new ids (prompts kept, so samples.jsonl has its real
size), then measures: ``write_build_html`` on the original and the large run, Chromium's load-and-ready time
of both pages (when chromium + chromedriver are installed), and the ``view`` server's start-up and API
latencies on the large run. Run: .venv/bin/python benchmarks/bench_view.py [RUN_DIR] [--copies 25]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def replicate(src: Path, dst: Path, copies: int) -> int:
    """A run with every chain/question/trajectory/sample repeated under ids suffixed ``~k``."""
    shutil.copytree(src, dst)
    keys = {"chains.jsonl": ["chain_id"], "questions.jsonl": ["question_id", "chain_id"],
            "trajectories.jsonl": ["question_id"], "samples.jsonl": ["sample_id", "question_id"]}
    n = 0
    for name, ks in keys.items():
        rows = (src / name).read_text().splitlines()
        with (dst / name).open("w") as f:
            for k in range(copies):
                for line in rows:
                    o = json.loads(line)
                    for key in ks:
                        if key in o:
                            o[key] = f"{o[key]}~{k}"
                    f.write(json.dumps(o, ensure_ascii=False) + "\n")
                    n += name == "samples.jsonl"
    return n


def browser_load(page: Path) -> float | None:
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    o = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        o.add_argument(a)
    o.binary_location = str(shutil.which("chromium"))
    d = webdriver.Chrome(service=Service(str(shutil.which("chromedriver"))), options=o)
    try:
        t = time.perf_counter()
        d.get(page.as_uri())
        WebDriverWait(d, 120).until(lambda x: x.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
        return time.perf_counter() - t
    finally:
        d.quit()


def main() -> None:
    from fastapi.testclient import TestClient

    from longtracerl.view import write_build_html
    from longtracerl.view.server import create_app

    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir", nargs="?", default="runs/default")
    ap.add_argument("--copies", type=int, default=25)
    args = ap.parse_args()
    src = Path(args.run_dir)
    if not (src / "samples.jsonl").exists():
        raise SystemExit(f"{src}: no samples.jsonl; run `longtracerl build` first (or pass a run directory)")
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big"
        n = replicate(src, big, args.copies)
        mb = (big / "samples.jsonl").stat().st_size / 1e6
        for label, run in (("original", src), (f"large ({n:,} samples, samples.jsonl {mb:,.0f} MB)", big)):
            t = time.perf_counter()
            page = write_build_html(run, out=Path(tmp) / f"{run.name}.html")
            dt = time.perf_counter() - t
            load = browser_load(page)
            print(f"{label}: write_build_html {dt:.2f} s, page {page.stat().st_size / 1e6:.1f} MB, "
                  f"Chromium load+render {'n/a (no chromium)' if load is None else f'{load:.2f} s'}")
        t = time.perf_counter()
        client = TestClient(create_app(big))
        client.__enter__()  # runs the app's lifespan; closed below
        start = time.perf_counter() - t
        lat: dict[str, list[float]] = {"items (filtered, 200)": [], "item detail": [], "doc": []}
        ids = [i["id"] for i in client.get("/api/items", params={"limit": 5000}).json()["items"]]
        for i in range(20):
            t = time.perf_counter()
            client.get("/api/items", params={"q": "capital", "strategy": "trajectory_tiered", "offset": i * 10})
            lat["items (filtered, 200)"].append(time.perf_counter() - t)
            t = time.perf_counter()
            det = client.get(f"/api/item/{ids[(i * 37) % len(ids)]}").json()
            lat["item detail"].append(time.perf_counter() - t)
            doc = (det.get("context") or {"docs": [{"doc_id": "x"}]})["docs"][0]["doc_id"]
            t = time.perf_counter()
            client.get(f"/api/doc/{doc}")
            lat["doc"].append(time.perf_counter() - t)
        client.__exit__(None, None, None)
        print(f"view server on the large run: start-up {start:.2f} s; median latency " + ", ".join(
            f"{k} {1000 * statistics.median(v):.1f} ms" for k, v in lat.items()))


if __name__ == "__main__":
    main()
