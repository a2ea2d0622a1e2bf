"""``longtracerl build --preset paper`` on the sample world against ``longtracerl serve-twin``: both real CLI
processes talking real HTTP through our OpenAI backend (2 moves, L = 40K, a dozen walks).

The twin (``twin/``) is the scripted model the project rules allow for behaviours SmolLM2-135M cannot produce:
valid multi-hop drafts in the structured form, tool calls that find the gold pages, verdicts in the released
format. It counts its calls per role, which is what this test reads to check that every role of the paper's
path was exercised.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from longtracerl.netutil import free_port, wait_http

L = 40_000


@pytest.mark.slow
def test_paper_preset_build_against_serve_twin(tmp_path: Path) -> None:
    from longtracerl.llm.tokenizers import load_tokenizer

    tok_dir = tmp_path / "policy-tokenizer"
    load_tokenizer().save_pretrained(str(tok_dir))  # stands in for the trained model's tokenizer
    env = {**os.environ}
    port = free_port()
    log = (tmp_path / "twin.log").open("w")
    twin = subprocess.Popen([sys.executable, "-m", "longtracerl.cli", "serve-twin", "--port", str(port),
                             "--world", "sample", "--time-scale", "0", "--tokenizer", "chars"], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=120, proc=twin)
        url = f"http://127.0.0.1:{port}/v1"
        cmd = [sys.executable, "-m", "longtracerl.cli", "build", "--preset", "paper", "--llm", "openai",
               "--base-url", url, "--model", "twin", "--tokenizer", str(tok_dir), "--out", str(tmp_path),
               "--name", "paper", "--n-chains", "12", "--set", "walk.hops=2", "--max-tokens", str(L), "--quiet"]
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stderr[-3000:]
        stats = httpx.get(f"http://127.0.0.1:{port}/stats", timeout=30).json()
    finally:
        twin.terminate()
        twin.wait(timeout=30)
        log.close()
    run = tmp_path / "paper"
    roles = {k: v["calls"] for k, v in stats["roles"].items()}
    assert all(roles.get(r, 0) > 0 for r in ("chooser", "writer", "agent", "judge")), roles
    assert stats["kinds"].get("agent_tools", 0) == roles["agent"]  # the paper's protocol: OpenAI tool calls
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["stages"]["walk"]["runs"][-1]["chooser_counters"]["calls"] == roles["chooser"]
    assert manifest["stages"]["questions"]["runs"][-1]["llm_calls"] == roles["writer"]

    samples = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines() if x.strip()]
    assert samples, (run / "rejected.jsonl").read_text()[:2000]
    # L bounds the prompt as the trainer tokenizes it: the chat template applied to the messages
    assert all(s["n_tokens"] < s["prompt_tokens"] <= L for s in samples)
    trajs = [json.loads(x) for x in (run / "trajectories.jsonl").read_text().splitlines() if x.strip()]
    questions = {json.loads(x)["question_id"]: json.loads(x) for x in (run / "questions.jsonl").read_text().splitlines()}
    for t in trajs:  # the twin's agent found and cited the gold pages of its own questions; the judge agreed
        q = questions[t["question_id"]]
        assert t["correct"] and t["agent"] == "llm_tools:twin"
        assert set(q["gold_doc_ids"]) <= {s["doc_id"] for s in t["steps"] if s["kind"] == "open"}
        assert t["judge"]["details"]["prompt"] == "hle-v1"
