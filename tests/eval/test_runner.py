"""The runner: rows per CONTRACTS.md 3, errors apart, resume after kill -9 equal to an uninterrupted run,
summary per split, compare. The scripted stub (longtracerl.eval.stub) stands in for a model where the
answers must be predictable or a process must be killed mid-run: the bundled model cannot be scripted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from longtracerl.netutil import free_port, wait_http

from .conftest import write_longbench_v2, write_mrcr

CONTRACT_FIELDS = {"item_id", "bench", "sample_index", "split", "prompt_sha256", "prompt_tokens", "prompt_head",
                   "response", "reasoning_chars", "extracted", "score", "judge_reply", "error", "usage"}


@pytest.fixture()
def stub() -> Iterator[str]:
    """The scripted endpoint, served from a thread of the test process (cheap on a loaded machine)."""
    import asyncio
    import threading

    from aiohttp import web

    from longtracerl.eval.stub import make_app

    port = free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(make_app(0.05), access_log=None)

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        loop.run_forever()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    wait_http(f"http://127.0.0.1:{port}/v1/models", timeout=30)
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    t.join(timeout=10)
    loop.close()


class _Result:
    def __init__(self, code: int, out: str) -> None:
        self.returncode, self.stdout, self.stderr = code, out, out


def run_cli(*args: str) -> _Result:
    """``longtracerl eval run ...`` in this process (the kill -9 test uses a real subprocess instead)."""
    from typer.testing import CliRunner

    from longtracerl.cli import app

    r = CliRunner().invoke(app, ["eval", "run", *args, "--no-progress"])
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return _Result(r.exit_code, r.output)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "longtracerl.cli", "eval", "run", *args, "--no-progress"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _rows(d: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in (d / "results.jsonl").read_text().splitlines()]


def _comparable(rows: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    out = []
    for r in rows:
        r = dict(r)
        r["usage"] = {k: v for k, v in r["usage"].items() if k not in ("seconds", "cached")}
        out.append(r)
    return out


def test_longbench_v2_rows_summary_and_contract(stub: str, tmp_path: Path) -> None:
    data = write_longbench_v2(tmp_path / "data.json", n=12)
    out = tmp_path / "run"
    r = run_cli("longbench-v2", "--data", str(data), "--base-url", f"{stub}/v1", "--model", "m",
                            "--n-samples", "2", "--out", str(out), "--max-tokens", "64")
    assert r.returncode == 0, r.stderr
    rows = _rows(out)
    assert len(rows) == 24 and CONTRACT_FIELDS <= set(rows[0])
    assert [(x["item_id"], x["sample_index"]) for x in rows[:3]] == [("lb00", 0), ("lb00", 1), ("lb01", 0)]
    for x in rows:
        assert x["reasoning_chars"] > 0  # the stub thinks in <think> tags, removed before scoring
        assert x["extracted"] in "ABCD" and x["score"] == float(x["extracted"] == _gold(data, x["item_id"]))
    s = json.loads((out / "summary.json").read_text())
    assert s["bench"] == "longbench-v2" and s["n_samples"] == 2 and s["error_rows"] == 0
    assert set(s["by_split"]) == {"difficulty", "length", "domain"}
    assert set(s["by_split"]["difficulty"]) == {"easy", "hard"}
    lo, hi = s["overall"]["ci95"]
    assert lo <= s["overall"]["mean"] <= hi
    assert s["paper"]["this_benchmark"] is None and "five benchmarks" in s["paper"]["note"]
    assert "| overall |" in (out / "summary.md").read_text()
    page = (out / "index.html").read_text()  # the browsable page is written with the summary
    assert "longbench-v2" in page and rows[0]["item_id"] in page


def _gold(data: Path, item_id: str) -> str:
    return {r["_id"]: r["answer"] for r in json.loads(data.read_text())}[item_id]


def test_errors_are_recorded_apart_and_retried_on_rerun(stub: str, tmp_path: Path) -> None:
    data = write_longbench_v2(tmp_path / "data.json", n=4)
    rows = json.loads(data.read_text())
    rows[2]["question"] = "FAIL_ALWAYS"
    data.write_text(json.dumps(rows))
    out = tmp_path / "run"
    args = ("longbench-v2", "--data", str(data), "--base-url", f"{stub}/v1", "--out", str(out), "--timeout", "5")
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr
    res = _rows(out)
    bad = [x for x in res if x["error"]]
    assert len(bad) == 1 and bad[0]["item_id"] == "lb02" and bad[0]["score"] is None and "http 500" in bad[0]["error"]
    s = json.loads((out / "summary.json").read_text())
    assert s["error_rows"] == 1 and s["overall"]["n_items"] == 3  # never counted as wrong
    # a rerun keeps the 3 finished rows, logs the failed attempt, and asks only the failed row again
    before = httpx.get(f"{stub}/stats").json()["requests"]
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr
    asked = httpx.get(f"{stub}/stats").json()["requests"] - before
    assert asked == 5  # one row, 1 + 4 retries
    assert len((out / "errors.jsonl").read_text().splitlines()) == 1


def test_resume_after_kill_9_equals_uninterrupted_run(stub: str, tmp_path: Path) -> None:
    data = write_longbench_v2(tmp_path / "data.json", n=60)
    common = ["--data", str(data), "--base-url", f"{stub}/v1", "--model", "m", "--concurrency", "2",
              "--temperature", "0.6"]
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    proc = subprocess.Popen(_cli("longbench-v2", *common, "--out", str(killed)), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    res = killed / "results.jsonl"
    while time.time() < deadline and (not res.exists() or len(res.read_text().splitlines()) < 10):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = len(res.read_text().splitlines())
    assert 10 <= partial < 60, "the run was not interrupted mid-way"
    before = httpx.get(f"{stub}/stats").json()["requests"]
    r = run_cli("longbench-v2", *common, "--out", str(killed))
    assert r.returncode == 0, r.stderr
    assert "already done" in r.stdout
    asked = httpx.get(f"{stub}/stats").json()["requests"] - before
    assert asked <= 60 - partial + 1  # finished rows were not asked again
    r = run_cli("longbench-v2", *common, "--out", str(clean))
    assert r.returncode == 0, r.stderr
    assert _comparable(_rows(killed)) == _comparable(_rows(clean))
    assert json.loads((killed / "summary.json").read_text())["overall"] == \
        json.loads((clean / "summary.json").read_text())["overall"]


def test_rerun_with_other_settings_is_refused(stub: str, tmp_path: Path) -> None:
    data = write_longbench_v2(tmp_path / "data.json", n=2)
    out = tmp_path / "run"
    base = ["--data", str(data), "--base-url", f"{stub}/v1", "--out", str(out)]
    assert run_cli("longbench-v2", *base).returncode == 0
    r = run_cli("longbench-v2", *base, "--temperature", "0.1")
    assert r.returncode == 2 and "temperature" in r.stderr.strip().splitlines()[-1]  # the error line names it


def test_paper_preset_sets_the_papers_sampling_and_says_so(stub: str, tmp_path: Path) -> None:
    """``--preset paper``: temperature 0.6 / top-p 0.95 / top-k 20 and the 160K context cap, flags still win."""
    data = write_longbench_v2(tmp_path / "data.json", n=2)
    out = tmp_path / "run"
    r = run_cli("longbench-v2", "--data", str(data), "--base-url", f"{stub}/v1", "--out", str(out),
                "--preset", "paper", "--top-p", "0.9")
    assert r.returncode == 0, r.stderr
    assert "eval settings vs the paper (preset: paper" in r.stderr
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert (cfg["temperature"], cfg["top_p"], cfg["top_k"], cfg["max_context"]) == (0.6, 0.9, 20, 160000)
    bad = run_cli("longbench-v2", "--data", str(data), "--base-url", f"{stub}/v1", "--out", str(tmp_path / "x"),
                  "--preset", "papr")
    assert bad.returncode == 2 and "--preset" in bad.stderr


def test_mrcr_and_compare(stub: str, tmp_path: Path) -> None:
    from longtracerl.eval.compare import compare

    data = write_mrcr(tmp_path / "mrcr")
    runs = []
    for label in ("base", "trained"):
        out = tmp_path / label
        r = run_cli("mrcr", "--data", str(data), "--base-url", f"{stub}/v1", "--label", label,
                                "--out", str(out), "--seed", "1" if label == "base" else "2")
        assert r.returncode == 0, r.stderr
        runs.append(out)
        rows = _rows(out)
        assert all(x["score"] == 0.0 for x in rows)  # the stub never starts with the random prefix
        s = json.loads((out / "summary.json").read_text())
        assert set(s["by_split"]) == {"needles", "bin", "needles x bin"}
    res = compare(runs, tmp_path / "cmp")
    md = Path(res["markdown"]).read_text()
    assert "| mrcr | 0.0 | 0.0 | +0.0 |" in md and "five-benchmark average" in md
    assert Path(res["plot"]).stat().st_size > 1000
    side_by_side = Path(res["html"]).read_text()
    assert "base" in side_by_side and "trained" in side_by_side and _rows(runs[0])[0]["item_id"] in side_by_side


def test_prompt_file_placeholders(stub: str, tmp_path: Path) -> None:
    data = write_longbench_v2(tmp_path / "data.json", n=2)
    tpl = tmp_path / "p.txt"
    tpl.write_text("Q: {question}\n(A) {choice_A}\n(D) {choice_D}\n{context}")
    out = tmp_path / "run"
    r = run_cli("longbench-v2", "--data", str(data), "--base-url", f"{stub}/v1", "--out", str(out),
                            "--prompt-file", str(tpl))
    assert r.returncode == 0, r.stderr
    assert _rows(out)[0]["prompt_head"].startswith("Q: Which option is number 0?\n(A) first")
    tpl.write_text("{question} {nope}")
    r = run_cli("longbench-v2", "--data", str(data), "--base-url", f"{stub}/v1", "--out",
                            str(tmp_path / "run2"), "--prompt-file", str(tpl))
    assert r.returncode == 2 and "unknown placeholder(s) nope" in r.stderr


def test_endpoint_down_is_a_clear_error_row(tmp_path: Path) -> None:
    data = write_longbench_v2(tmp_path / "data.json", n=1)
    out = tmp_path / "run"
    r = run_cli("longbench-v2", "--data", str(data), "--base-url", f"http://127.0.0.1:{free_port()}/v1",
                            "--out", str(out))
    assert r.returncode == 0, r.stderr
    row = _rows(out)[0]
    assert row["score"] is None and "connection error" in row["error"]


def test_judged_benchmarks_use_the_judge_reply(stub: str, tmp_path: Path) -> None:
    from .conftest import write_aa_lcr_hf, write_frames

    arts = tmp_path / "arts.jsonl"
    arts.write_text(json.dumps({"title": "Charles Babbage", "text": "Engines."}) + "\n")
    frames_out, aa_out = tmp_path / "frames", tmp_path / "aa"
    r = run_cli("frames", "--data", str(write_frames(tmp_path / "test.tsv")), "--articles", str(arts), "--base-url",
                f"{stub}/v1", "--judge-base-url", f"{stub}/v1", "--out", str(frames_out))
    assert r.returncode == 0, r.stdout
    for row in _rows(frames_out):
        assert row["judge_reply"].startswith("Checked.\nDecision: ")
        assert row["score"] == float(row["judge_reply"].endswith("TRUE"))
    s = json.loads((frames_out / "summary.json").read_text())
    # multi-label reasoning types are counted under each label
    assert set(s["by_split"]["reasoning_types"]) == {"Multiple constraints", "Temporal reasoning", "Numerical reasoning"}
    r = run_cli("aa-lcr", "--data", str(write_aa_lcr_hf(tmp_path / "aa_data")), "--base-url", f"{stub}/v1",
                "--judge-base-url", f"{stub}/v1", "--out", str(aa_out))
    assert r.returncode == 0, r.stdout
    rows = _rows(aa_out)
    assert len(rows) == 2 * 4  # AA-LCR defaults to 4 samples per item, as in the paper
    assert all(x["score"] == float(x["judge_reply"] == "CORRECT") for x in rows)
    # without a judge endpoint a judged benchmark refuses to start with an API model
    r = run_cli("aa-lcr", "--data", str(tmp_path / "aa_data"), "--base-url", f"{stub}/v1", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "--judge-base-url" in r.stdout


def test_indist_scored_with_outcome_and_rubric(fake_chat_servers: Any, tmp_path: Path) -> None:
    """Our held-out split, scored like the reward: outcome (gold contained on word boundaries) and the rubric.
    A scripted FAKE model (the bundled one cannot be made to answer to order) gives answers that score 1, 0 and
    partly; the expected values are worked out by hand below."""
    from fastapi.responses import JSONResponse

    answers = {
        "Question 0?": "<think>Kosovo, then Pristina.</think>It is Lyon, via Kosovo and the Ibar river.",
        "Question 1?": "<think>Lyon? Kosovo? Ibar?</think>I cannot tell.",  # entities only in the reasoning
        "Question 2?": "The answer is Lyonnais, found through Kosovo.",  # not the gold word; one entity of two
    }

    async def reply(body: dict[str, Any]) -> Any:
        text = body["messages"][-1]["content"]
        q = next(k for k in answers if k in text)
        return JSONResponse(fake_chat_servers.completion(answers[q]))

    url = fake_chat_servers.start(reply)
    rows = [{"source": "longqa", "input_messages": [{"role": "user", "content": f"Docs... Question {i}?"}],
             "label": "Lyon", "metadata": {"extra_reward_info": {"question": f"Question {i}?",
                                                                 "rubrics": ["Kosovo", "Ibar River"],
                                                                 "dataset_name": "longqa"}}}
            for i in range(3)]
    f = tmp_path / "slime_test.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    r = run_cli("indist", "--data", str(f), "--base-url", url, "--out", str(out))
    assert r.returncode == 0, r.stdout
    got = [(x["score"], x["extra"]["rubric"], x["extra"]["rubric_matched"]) for x in _rows(out)]
    assert got == [
        (1.0, 1.0, ["Kosovo", "Ibar River"]),  # right, both entities named in the final answer ("Ibar river")
        (0.0, 0.0, []),                        # wrong; reasoning is not matched
        (0.0, 0.5, ["Kosovo"]),                # "Lyonnais" is not "Lyon"; one entity of two
    ]
    s = json.loads((out / "summary.json").read_text())
    assert s["overall"]["mean"] == 1 / 3 and s["error_rows"] == 0
