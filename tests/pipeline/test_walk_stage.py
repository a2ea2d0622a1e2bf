"""The walk stage: re-walks over the whole walk file (on the bundled world, safe across a crash), and the LLM
chooser's concurrency setting."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import pytest

import longtracerl.pipeline.stages as stages
from longtracerl.config import BuildConfig
from longtracerl.graph.chooser import Candidate
from longtracerl.graph.walk_variety import VarietyLimits, repeats
from longtracerl.io import read_records
from longtracerl.pipeline.build import run_build
from longtracerl.records import Chain, Hop


def cfg(out: Path, name: str) -> BuildConfig:
    return BuildConfig.model_validate({"out": str(out), "name": name, "walk": {"n_chains": 40}})


def test_walk_stage_rewalks_repeats_and_a_crash_between_decision_and_files_changes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = run_build(cfg(tmp_path, "a"), progress=False, stages=["walk"])
    variety = json.loads((a.dir / "manifest.json").read_text())["stages"]["walk"]["runs"][-1]["variety"]
    assert variety["rewalked"] > 0 and variety["flagged"].get("hub_repeated", 0) > 0
    chains = read_records(a.chains, Chain)
    q = a.cfg.questions
    lim = VarietyLimits(max_per_hub=q.max_per_hub, max_per_answer=q.max_per_answer, same_tail_hops=q.same_tail_hops)
    assert not repeats(chains, lim)  # the bundled world has room: every repeat found another walk
    assert sum(bool(c.walk.get("rewalked")) for c in chains) == variety["rewalked"]

    # b: the process dies after the decision is on disk, before the chains file is rewritten
    def crash(*args: object, **kw: object) -> None:
        raise RuntimeError("injected crash")

    monkeypatch.setattr(stages, "write_records", crash)
    with pytest.raises(RuntimeError, match="injected crash"):
        run_build(cfg(tmp_path, "b"), progress=False, stages=["walk"])
    b = tmp_path / "b"
    assert (b / "walk_variety.json").exists() and (b / "chains.jsonl").read_bytes() != a.chains.read_bytes()
    monkeypatch.undo()
    run_build(cfg(tmp_path, "b"), progress=False, stages=["walk"])
    for f in ("chains.jsonl", "walk_variety.json"):
        assert (b / f).read_bytes() == (a.dir / f).read_bytes(), f


class SlowAsyncChooser:
    """Stands in for the LLM chooser (scripted: uniform picks after a short wait), recording how many walks ask
    it at once."""

    name = "scripted-llm"

    def __init__(self) -> None:
        self.in_flight = self.most = 0
        self.counters: dict[str, int] = {}

    async def achoose(self, path: list[Hop], candidates: list[Candidate], rng: random.Random) -> int:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        await asyncio.sleep(0.002)
        self.in_flight -= 1
        return rng.randrange(len(candidates))


def test_walk_concurrency_setting_reaches_the_llm_chooser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[SlowAsyncChooser] = []

    def chooser(self: Any, ctx: Any) -> SlowAsyncChooser:
        made.append(SlowAsyncChooser())
        return made[-1]

    monkeypatch.setattr(stages.WalkStage, "chooser", chooser)
    out = {}
    for n in (1, 5):
        c = BuildConfig.model_validate({"out": str(tmp_path), "name": f"c{n}", "walk": {
            "n_chains": 20, "chooser": "llm", "concurrency": n, "rewalk_rounds": 0}})
        ctx = run_build(c, progress=False, stages=["walk"])
        out[n] = ctx.chains.read_bytes()
        assert made[-1].most == n
    assert out[1] == out[5]  # the chains do not depend on it
