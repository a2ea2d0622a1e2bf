"""The eval fixes of issue 19: a typo fails before any model loads; every failure of a row becomes an error row
(counted, never lost); AA-LCR replies are read by the reward's verdict function; a reply cut at max tokens
scores 0 without a judge call and is counted apart.

The endpoints here are FAKE OpenAI-compatible servers (``fake_chat_servers``), for fault injection and for
scripted replies the bundled model cannot be made to produce (garbage bodies, 4xx, ``finish_reason: length``,
a judge that answers ``**CORRECT**``); each is said where it is used.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse
from typer.testing import CliRunner

from longtracerl.cli import app

from .conftest import write_aa_lcr_hf, write_longbench_v2


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["eval", "run", *args, "--no-progress"])


def _rows(d: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (d / "results.jsonl").read_text().splitlines()]


def _aa_lcr(servers: Any, tmp_path: Path, model: Any, judge: Any, n_samples: int) -> tuple[Any, Path]:
    """``eval run aa-lcr`` on the two hand-made items against a model and a judge server."""
    model_url, judge_url = servers.start(model), servers.start(judge)
    out = tmp_path / "aa"
    r = _cli("aa-lcr", "--data", str(write_aa_lcr_hf(tmp_path / "aa_data")), "--base-url", model_url,
             "--judge-base-url", judge_url, "--n-samples", str(n_samples), "--out", str(out))
    assert r.exit_code == 0, r.output
    return r, out


def _cut(body: dict[str, Any]) -> JSONResponse:
    """A completion the server cut at max tokens, as vLLM reports it."""
    body["choices"][0]["finish_reason"] = "length"
    return JSONResponse(body)


def test_unknown_benchmark_split_or_field_fails_in_one_line_before_any_model_loads(tmp_path: Path) -> None:
    """``--llm local --model MISSING.gguf``: had the model been loaded first, the error would name the GGUF."""
    missing = str(tmp_path / "no-model.gguf")
    data = str(write_longbench_v2(tmp_path / "lb.json", n=2))
    cases = [
        (["no-such-bench"], "no-such-bench: unknown benchmark; known: aa-lcr, mrcr"),
        (["longreason", "--split", "9k"], "unknown split '9k'; known: original, expanded, 8k"),
        (["longbench-v2", "--data", data, "--split", "8k"], "only longreason has splits"),
        (["longbench-v2", "--data", data, "--where", "needles=8"],
         "unknown field 'needles'; known: difficulty, length, domain"),
        (["mrcr", "--where", "needles"], "expected FIELD=VALUE"),
    ]
    for args, msg in cases:
        t0 = time.monotonic()
        r = _cli(*args, "--llm", "local", "--model", missing, "--out", str(tmp_path / "run"))
        assert r.exit_code == 2, r.output
        lines = [ln for ln in r.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and msg in lines[0], r.output
        assert "no-model.gguf" not in r.output and time.monotonic() - t0 < 5
    assert not (tmp_path / "run").exists()  # nothing was started


def test_every_failure_is_an_error_row_counted_never_lost(fake_chat_servers: Any, tmp_path: Path) -> None:
    """FAKE endpoint (fault injection): per question it answers well, with a body whose ``choices`` hold a
    string (our parser raises AttributeError: not an LLMError), with a non-numeric usage count (ValueError),
    or with HTTP 400 (an LLMError)."""
    completion = fake_chat_servers.completion

    async def reply(body: dict[str, Any]) -> Response:
        text = body["messages"][-1]["content"]
        if "number 1?" in text:
            return JSONResponse({"id": "x", "choices": ["not a choice object"]})
        if "number 2?" in text:
            return JSONResponse({**completion("The correct answer is (C)"), "usage": {"prompt_tokens": "many"}})
        if "number 3?" in text:
            return JSONResponse({"error": {"message": "injected bad request"}}, status_code=400)
        return JSONResponse(completion("The correct answer is (A)"))

    url = fake_chat_servers.start(reply)
    data = write_longbench_v2(tmp_path / "lb.json", n=6)  # golds A B C D A B
    out = tmp_path / "run"
    r = _cli("longbench-v2", "--data", str(data), "--base-url", url, "--out", str(out),
             "--concurrency", "3")
    assert r.exit_code == 0, r.output
    rows = {x["item_id"]: x for x in _rows(out)}
    assert sorted(rows) == [f"lb{i:02d}" for i in range(6)]  # no row vanished
    assert rows["lb01"]["error"].startswith("model: AttributeError") and rows["lb01"]["score"] is None
    assert rows["lb02"]["error"].startswith("model: ValueError") and rows["lb02"]["score"] is None
    assert rows["lb03"]["error"].startswith("model: http 400") and rows["lb03"]["score"] is None
    assert [rows[f"lb{i:02d}"]["score"] for i in (0, 4, 5)] == [1.0, 1.0, 0.0]  # answered A; golds A, A, B
    s = json.loads((out / "summary.json").read_text())
    assert s["error_rows"] == 3 and s["errors_by_kind"] == {"model": 3} and s["scored_rows"] == 3
    assert s["overall"]["mean"] == 2 / 3  # errors are apart, not wrong answers
    assert "6 rows" in r.output and "3 errors" in r.output


def test_aa_lcr_reads_the_judge_with_the_rewards_verdict_function(fake_chat_servers: Any, tmp_path: Path) -> None:
    """FAKE model and judge (scripted): the model answers; the judge replies ``**CORRECT**`` to one item (markdown,
    as judges write it) and ``The answer is CORRECT.`` (no verdict at the start) to the other. The reward's
    ``aa_lcr`` judge reads the same replies the same way."""
    import asyncio

    from longtracerl.reward.judge import make_judge
    from longtracerl.reward.verdicts import aa_lcr_verdict

    completion = fake_chat_servers.completion
    replies = {"Texts": "**CORRECT**", "Notes": "The answer is CORRECT."}

    async def judge(body: dict[str, Any]) -> Response:
        text = body["messages"][-1]["content"]
        gold = "Texts" if "Texts" in text else "Notes"
        return JSONResponse(completion(replies[gold]))

    async def model(body: dict[str, Any]) -> Response:
        return JSONResponse(completion("<think>reading</think>They say the same."))

    _, out = _aa_lcr(fake_chat_servers, tmp_path, model, judge, 1)
    rows = {x["gold"]: x for x in _rows(out)}
    assert rows["Texts"]["score"] == 1.0 and rows["Texts"]["error"] is None
    assert rows["Notes"]["score"] is None and "no CORRECT/INCORRECT verdict" in rows["Notes"]["error"]
    # the reward's judge (prompt aa_lcr) on the same replies: CORRECT, then no verdict (an error state, retried)
    rj = make_judge(base_url=fake_chat_servers.start(judge), model="j", prompt="aa_lcr", use_cache=False)
    ok = asyncio.run(rj.score("They say the same.", "Texts", question="What do the two files say?"))
    none = asyncio.run(rj.score("They say the same.", "Notes", question="What do the notes say?"))
    assert ok.correct is True and ok.score == 1.0
    assert none.correct is None and none.error
    for reply in replies.values():
        assert aa_lcr_verdict(reply) == {"**CORRECT**": True}.get(reply)


def test_truncated_reply_scores_zero_without_a_judge_call(fake_chat_servers: Any, tmp_path: Path) -> None:
    """FAKE model that cuts one reply at max tokens (``finish_reason: length``), as vLLM reports it; a FAKE judge
    that would call anything CORRECT (AA-LCR's checker is known to accept truncated answers)."""
    completion = fake_chat_servers.completion
    judged: list[str] = []

    async def model(body: dict[str, Any]) -> Response:
        text = body["messages"][-1]["content"]
        if "the notes" in text:
            return _cut(completion("<think>the notes say... they say Not"))
        return JSONResponse(completion("Texts"))

    async def judge(body: dict[str, Any]) -> Response:
        judged.append(body["messages"][-1]["content"])
        return JSONResponse(completion("CORRECT"))

    r, out = _aa_lcr(fake_chat_servers, tmp_path, model, judge, 2)
    rows = _rows(out)
    cut = [x for x in rows if x["gold"] == "Notes"]
    assert len(cut) == 2 and all(x["score"] == 0.0 and x["truncated"] and x["judge_reply"] is None for x in cut)
    assert all(x["finish_reason"] == "length" and x["error"] is None for x in cut)
    # the judge saw only the finished replies (its two identical requests are served once by the LLM cache)
    assert judged and all("Official answer: Texts" in j for j in judged)
    assert [x["judge_reply"] for x in rows if x["gold"] == "Texts"] == ["CORRECT", "CORRECT"]
    s = json.loads((out / "summary.json").read_text())
    assert s["truncated_rows"] == 2 and s["error_rows"] == 0 and s["overall"]["mean"] == 0.5
    assert "2 truncated" in r.output and "2 truncated at --max-tokens" in (out / "summary.md").read_text()


def test_rule_scored_benchmark_keeps_its_rule_on_a_truncated_reply(fake_chat_servers: Any, tmp_path: Path) -> None:
    """FAKE model (scripted): every reply is cut at max tokens, one after its answer, one inside its reasoning.
    LongBench v2's published rule reads whatever was written; the rows are still counted as truncated."""
    completion = fake_chat_servers.completion

    async def model(body: dict[str, Any]) -> Response:
        text = body["messages"][-1]["content"]
        reply = ("The correct answer is (A) because the first" if "number 0?" in text
                 else "<think>Option B looks right, though")
        return _cut(completion(reply))

    out = tmp_path / "lb"
    r = _cli("longbench-v2", "--data", str(write_longbench_v2(tmp_path / "lb.json", n=2)), "--base-url",
             fake_chat_servers.start(model), "--out", str(out))
    assert r.exit_code == 0, r.output
    rows = _rows(out)
    assert [(x["extracted"], x["score"], x["truncated"]) for x in rows] == [("A", 1.0, True), (None, 0.0, True)]
    s = json.loads((out / "summary.json").read_text())
    assert s["truncated_rows"] == 2 and s["error_rows"] == 0 and s["overall"]["mean"] == 0.5
