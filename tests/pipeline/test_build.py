"""``longtracerl build`` end to end on the sample world, through the real CLI in subprocesses: all outputs and
the report; kill -9 at several points then rerun == an uninterrupted run, byte for byte; Ray == local."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

SMALL = ["--n-chains", "6", "--set", "walk.hops=2", "--max-tokens", "40000", "--quiet"]
COMPARED = ["chains.jsonl", "questions.jsonl", "rejected.jsonl", "trajectories.jsonl", "samples.jsonl",
            "export/slime.jsonl", "export/verl/train.parquet", "report/stats.json"]


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["LONGTRACERL_HOME"] = str(home)
    env["PYTHONWARNINGS"] = "error::ResourceWarning"  # an unclosed file or session prints "Exception ignored"
    env.update(extra)
    return env


def _cmd(out: Path, name: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "longtracerl.cli", "build", "--out", str(out), "--name", name, *SMALL, *args]


def _build(out: Path, name: str, home: Path, *args: str) -> Path:
    r = subprocess.run(_cmd(out, name, *args), env=_env(home), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Exception ignored" not in r.stderr and "Traceback" not in r.stderr, r.stderr[-3000:]  # clean shutdown
    return out / name


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.getbasetemp() / "home"
    return _build(tmp_path_factory.mktemp("runs"), "ref", home)


def _hf_rows(run: Path) -> list[dict[str, object]]:
    from datasets import load_from_disk

    return list(load_from_disk(str(run / "export" / "hf")))


def _same(a: Path, b: Path) -> None:
    for rel in COMPARED:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), f"{rel} differs"
    assert _hf_rows(a) == _hf_rows(b)


def test_build_outputs_and_report(reference: Path) -> None:
    run = reference
    for rel in ["config.yaml", "manifest.json", *COMPARED, "report/report.md", "report/context_lengths.png",
                "report/tier_composition.png", "report/mention_share.png"]:
        assert (run / rel).exists(), rel
    samples = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
    assert len(samples) >= 3
    for s in samples:
        assert s["n_tokens"] <= 40000
        assert s["docs"][0]["tier"] in ("gold", "tier1", "tier2", "fill")
        assert {d["tier"] for d in s["docs"]} >= {"gold"}
    stats = json.loads((run / "report" / "stats.json").read_text())
    assert stats["counts"]["samples"] == len(samples)
    assert set(stats["strategies"]) == {"random", "one_shot_search", "trajectory_random", "trajectory_tiered"}
    assert stats["strategies"]["trajectory_tiered"]["share_pct"] is not None
    md = (run / "report" / "report.md").read_text()
    assert "trajectory_tiered" in md and "50.03" in md
    manifest = json.loads((run / "manifest.json").read_text())
    assert all(manifest["stages"][s]["done"] for s in ("walk", "questions", "agent", "assembly", "export", "report"))
    cfg = (run / "config.yaml").read_text()
    assert "max_tokens: 40000" in cfg and "versions:" in cfg


def test_every_field_written_is_declared(reference: Path) -> None:
    from longtracerl.io import iter_jsonl
    from longtracerl.records import Chain, Question, Record, Rejection, Sample, Trajectory

    def undeclared(rec: Record, where: str) -> list[str]:
        out = [f"{where}.{k}" for k in rec.model_extra or {}]
        for name in type(rec).model_fields:
            v = getattr(rec, name)
            for i, sub in enumerate(v if isinstance(v, list) else [v]):
                if isinstance(sub, Record):
                    out += undeclared(sub, f"{where}.{name}[{i}]")
        return out

    files = {"chains.jsonl": Chain, "questions.jsonl": Question, "rejected.jsonl": Rejection,
             "trajectories.jsonl": Trajectory, "samples.jsonl": Sample}
    for name, model in files.items():
        path = reference / name
        rows = [model.model_validate(o) for _, o in iter_jsonl(path)] if path.exists() else []
        assert rows or name == "rejected.jsonl", name
        for r in rows:
            assert undeclared(r, name) == []
    sample = Sample.model_validate_json((reference / "samples.jsonl").read_text().splitlines()[0])
    assert [d.position for d in sample.docs] == list(range(len(sample.docs)))
    assert {"instruction", "budget_tokens", "removed"} <= set(sample.details)


def test_slime_export_scored_by_the_reward(reference: Path) -> None:
    from longtracerl.reward import LongTraceReward

    rows = [json.loads(x) for x in (reference / "export" / "slime.jsonl").read_text().splitlines()]
    rw = LongTraceReward()
    for row in rows[:3]:
        info = row["metadata"]["extra_reward_info"]
        resp = f"<think>...</think>Via {', '.join(info['rubrics'])}: {row['label']}."
        r = rw.score_one(resp, row["label"], info["rubrics"], question=info["question"])
        assert r.outcome == 1.0 and r.rubric_raw == 1.0 and r.reward == 1.0


def _kill_when(proc: subprocess.Popen[bytes], cond: Callable[[], bool], timeout: float = 120) -> bool:
    """SIGKILL the process as soon as ``cond()`` holds; False if it finished first."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            return False
        if cond():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.01)
    proc.kill()
    raise AssertionError("kill condition never met")


def _manifest(run: Path) -> dict[str, object]:
    try:
        return json.loads((run / "manifest.json").read_text())["stages"]  # type: ignore[no-any-return]
    except (OSError, ValueError, KeyError):
        return {}


def _lines(p: Path) -> int:
    return p.read_bytes().count(b"\n") if p.exists() else 0


@pytest.mark.slow
def test_kill9_at_several_points_then_resume_is_identical(reference: Path, tmp_path: Path,
                                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.getbasetemp() / "home"
    run = tmp_path / "kill"
    points: list[tuple[str, Callable[[], bool]]] = [
        ("after chains", lambda: "walk" in _manifest(run)),
        ("mid-samples", lambda: _lines(run / "samples.jsonl") >= 2 and "assembly" not in _manifest(run)),
        ("after samples", lambda: "assembly" in _manifest(run)),
    ]
    killed = []
    for label, cond in points:
        # test-only throttle of the assembly stage so the mid-stage kill lands between two samples
        proc = subprocess.Popen(_cmd(tmp_path, "kill"), env=_env(home, LONGTRACERL_TEST_ASSEMBLY_DELAY="0.3"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if _kill_when(proc, cond):
            killed.append(label)
        if label == "mid-samples":
            n_partial = _lines(run / "samples.jsonl")
            # a torn last line, as a kill in the middle of a write leaves it
            with (run / "samples.jsonl").open("ab") as f:
                f.write(b'{"sample_id":"s-torn","question_id":"q-to')
    assert killed[:2] == ["after chains", "mid-samples"], killed
    _build(tmp_path, "kill", home)
    assert 2 <= n_partial < _lines(run / "samples.jsonl")
    _same(reference, run)


@pytest.mark.slow
def test_ray_executor_equals_local(reference: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.getbasetemp() / "home"
    run = _build(tmp_path, "ray", home, "--executor", "ray")
    manifest = json.loads((run / "manifest.json").read_text())["stages"]
    assert manifest["assembly"]["runs"][-1]["executor"] == "ray"
    assert manifest["assembly"]["runs"][-1]["shards"] == 2
    _same(reference, run)


def test_bad_config_and_changed_config(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.getbasetemp() / "home"
    bad = tmp_path / "bad.yaml"
    bad.write_text("walk:\n  n_chainz: 3\n")
    r = subprocess.run([sys.executable, "-m", "longtracerl.cli", "build", "--config", str(bad), "--out", str(tmp_path)],
                       env=_env(home), capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "n_chainz" in r.stderr
    from longtracerl.config import BuildConfig
    from longtracerl.pipeline.context import ConfigMismatch, RunContext

    cfg = BuildConfig.load(None, ["walk.n_chains=2"], {"out": str(tmp_path), "name": "x"})
    assert cfg.walk.n_chains == 2 and cfg.run_dir == tmp_path / "x"
    RunContext(cfg, progress=False).check_config()
    other = BuildConfig.load(None, ["walk.n_chains=3"], {"out": str(tmp_path), "name": "x"})
    with pytest.raises(ConfigMismatch, match="walk"):
        RunContext(other, progress=False).check_config()


def test_example_configs_load() -> None:
    from longtracerl.config import BuildConfig

    root = Path(__file__).resolve().parents[2] / "examples"
    a = BuildConfig.load(root / "build_sample_world.yaml")
    b = BuildConfig.load(root / "build_kilt.yaml", extra={"llm.base_url": "http://127.0.0.1:1/v1"})
    assert a.world.kind == "sample" and a.assembly.max_tokens == 131072
    assert b.executor == "ray" and b.walk.hops == 8 and b.llm.base_url == "http://127.0.0.1:1/v1"
