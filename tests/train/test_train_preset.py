"""``train grpo --preset paper``: the paper's reward needs a judge (one-line error naming the flag), and the
settings table is printed before anything is loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from longtracerl.cli import app

runner = CliRunner()


def test_paper_preset_without_a_judge_fails_at_once(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text("{}\n")
    r = runner.invoke(app, ["train", "grpo", "--data", str(data), "--preset", "paper"])
    assert r.exit_code == 2 and "--judge-base-url" in r.output


def test_table_is_printed_at_start(tmp_path: Path, fault_llm: Any) -> None:
    """The judge endpoint is the fault-injection stub (never called here: the data is rejected first)."""
    url, script = fault_llm
    data = tmp_path / "d.jsonl"
    data.write_text('{"input_messages": "not a list", "label": "x"}\n')
    r = runner.invoke(app, ["train", "grpo", "--data", str(data), "--preset", "paper", "--judge-base-url", url,
                            "--judge-model", "m", "--num-generations", "4"])
    assert r.exit_code == 2 and "d.jsonl:1" in r.output  # bad data, after the table
    out = r.output
    assert out.index("training settings vs the paper (preset: paper") < out.index("d.jsonl:1")
    for row in ("reward: format gate", "released", "GRPO: group size G", "GRPO: clip low / high"):
        assert row in out
    assert "(2 of" in out  # G = 4 (paper 8) and the judge wording (ours) differ, nothing else
    assert script.requests == []
