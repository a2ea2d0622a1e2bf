"""The walk stage's re-walks over the whole walk file: on the bundled world, and safe across a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import longtracerl.pipeline.stages as stages
from longtracerl.config import BuildConfig
from longtracerl.graph.walk_variety import VarietyLimits, repeats
from longtracerl.io import read_records
from longtracerl.pipeline.build import run_build
from longtracerl.records import Chain


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
