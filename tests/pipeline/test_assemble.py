"""``longtracerl assemble --from``: one build reassembled at other context lengths through the real CLI.

Its samples are byte-identical to a fresh build's at that L; it makes no LLM call (the source's config
points at an LLM endpoint nobody listens on); it resumes after ``kill -9``; it reads a partly finished
source; it writes a length curriculum through every export format."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

SMALL = ["--n-chains", "6", "--set", "walk.hops=2", "--quiet", "--set", "distractors.compare_all=false"]
L_SOURCE, L_SHORT, L_MID = 40960, 20480, 32768


def _env(home: Path, **extra: str) -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["LONGTRACERL_HOME"] = str(home)
    env.update(extra)
    return env


def _run(args: list[str], home: Path, ok: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", "longtracerl.cli", *args], env=_env(home, **env),
                       capture_output=True, text=True, timeout=600)
    if ok:
        assert r.returncode == 0, r.stderr[-3000:]
        assert "Traceback" not in r.stderr, r.stderr[-3000:]
    return r


def _lines(p: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in p.read_text().splitlines()] if p.exists() else []


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A source build at L=40K, a fresh build at 32K, and ``assemble --from`` the source at 20K and 32K."""
    home = tmp_path_factory.getbasetemp() / "home"
    out = tmp_path_factory.mktemp("runs")
    _run(["build", "--out", str(out), "--name", "src", "--max-tokens", str(L_SOURCE), *SMALL], home)
    _run(["build", "--out", str(out), "--name", "fresh", "--max-tokens", str(L_MID), *SMALL], home)
    r = _run(["assemble", "--from", str(out / "src"), "--max-tokens", str(L_SHORT), "--max-tokens", str(L_MID),
              "--curriculum", "equal", "--quiet"], home)
    assert "src-20k" in r.stderr and "src-32k" in r.stderr
    return {"src": out / "src", "fresh": out / "fresh", "short": out / "src-20k", "mid": out / "src-32k",
            "cur": out / "src-curriculum", "out": out, "home": home}


@pytest.mark.slow
def test_assembled_samples_equal_a_fresh_build_at_that_length(runs: dict[str, Path]) -> None:
    mid, fresh = runs["mid"], runs["fresh"]
    for rel in ("samples.jsonl", "rejected.jsonl", "export/slime.jsonl", "export/verl/train.parquet",
                "chains.jsonl", "questions.jsonl", "trajectories.jsonl"):
        assert (mid / rel).read_bytes() == (fresh / rel).read_bytes(), rel
    samples = _lines(mid / "samples.jsonl")
    assert samples and all(int(str(s["n_tokens"])) <= L_MID for s in samples)
    # the source build is recorded: manifest, stats and the settings table of the report
    m = json.loads((mid / "manifest.json").read_text())
    assert m["source"]["dir"] == str(runs["src"]) and m["source"]["upstream_done"]["agent"] is True
    assert m["stages"]["agent"]["from_source"] is True and m["stages"]["assembly"]["done"]
    stats = json.loads((mid / "report" / "stats.json").read_text())
    assert stats["source_build"]["name"] == "src" and stats["context_tokens"]["L"] == L_MID
    assert str(runs["src"]) in stats["settings_vs_paper"][0]["ours"]
    assert "assemble --from" in (mid / "report" / "report.md").read_text()
    assert (mid / "report" / "index.html").exists()


@pytest.mark.slow
def test_shorter_length_names_what_it_drops(runs: dict[str, Path]) -> None:
    src = {str(s["question_id"]): s for s in _lines(runs["src"] / "samples.jsonl")}
    short = _lines(runs["short"] / "samples.jsonl")
    rejected = [r for r in _lines(runs["short"] / "rejected.jsonl") if r["stage"] == "assembly"]
    assert short or rejected
    for s in short:
        assert int(str(s["n_tokens"])) <= L_SHORT
        before = src.get(str(s["question_id"]))
        if before is not None:  # the same candidates at a shorter L: fewer fit, and the rest are named
            n_before, n_now = len(before["docs"]), len(s["docs"])  # type: ignore[arg-type]
            assert n_now <= n_before
            if n_now < n_before:
                assert sum(s["details"]["no_room"].values()) > 0  # type: ignore[index]
    for r in rejected:  # gold pages alone over L: rejected by name, never truncated into a sample
        assert r["reason"] in ("gold_exceeds_budget", "gold_missing") and str(L_SHORT) in str(r["detail"])
    assert not {str(s["question_id"]) for s in short} & {str(r["item_id"]) for r in rejected}


@pytest.mark.slow
def test_no_llm_call_and_a_partly_finished_source(runs: dict[str, Path], tmp_path: Path) -> None:
    """The source's config says an LLM wrote it, at an endpoint where nothing listens: assemble must not care.
    Its agent stage is cut short (two trajectories and a torn third line, not marked done)."""
    from longtracerl.netutil import free_port

    src = tmp_path / "partial"
    shutil.copytree(runs["src"], src, ignore=shutil.ignore_patterns("samples.jsonl", "export", "report", "cache"))
    cfg = yaml.safe_load((src / "config.yaml").read_text())
    cfg["llm"] = {**cfg["llm"], "kind": "openai", "base_url": f"http://127.0.0.1:{free_port()}/v1", "model": "m"}
    (src / "config.yaml").write_text(yaml.safe_dump(cfg))
    trajs = (src / "trajectories.jsonl").read_bytes().splitlines(keepends=True)
    (src / "trajectories.jsonl").write_bytes(b"".join(trajs[:2]) + trajs[2][:40])
    m = json.loads((src / "manifest.json").read_text())
    for s in ("agent", "assembly", "export", "report"):
        m["stages"].pop(s, None)
    (src / "manifest.json").write_text(json.dumps(m))
    _run(["assemble", "--from", str(src), "--max-tokens", str(L_MID), "--name", "p", "--quiet"], runs["home"])
    got = _lines(tmp_path / "p" / "samples.jsonl")
    full = {str(s["question_id"]): s for s in _lines(runs["mid"] / "samples.jsonl")}
    kept = {json.loads(t)["question_id"] for t in trajs[:2]}
    assert {str(s["question_id"]) for s in got} <= kept
    for s in got:  # the same sample as from the finished source
        assert s == full[str(s["question_id"])]
    man = json.loads((tmp_path / "p" / "manifest.json").read_text())
    assert man["source"]["upstream_done"]["agent"] is False and man["source"]["records"]["trajectories.jsonl"] == 2
    usage = [r.get("usage", {}).get("calls", 0) for st in man["stages"].values() for r in st["runs"]]
    assert sum(usage) == 0


@pytest.mark.slow
def test_kill9_mid_assembly_then_resume_is_identical(runs: dict[str, Path], tmp_path: Path) -> None:
    args = [sys.executable, "-m", "longtracerl.cli", "assemble", "--from", str(runs["src"]), "--max-tokens",
            str(L_MID), "--out", str(tmp_path), "--name", "k", "--quiet"]
    samples = tmp_path / "k" / "samples.jsonl"
    proc = subprocess.Popen(args, env=_env(runs["home"], LONGTRACERL_TEST_ASSEMBLY_DELAY="0.4"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if samples.exists() and samples.read_bytes().count(b"\n") >= 1:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait()
    n_partial = samples.read_bytes().count(b"\n")
    with samples.open("ab") as f:
        f.write(b'{"sample_id":"s-torn","question_id":"q-to')
    _run(args[3:], runs["home"])
    assert 1 <= n_partial < samples.read_bytes().count(b"\n")
    for rel in ("samples.jsonl", "rejected.jsonl", "export/slime.jsonl"):
        assert (tmp_path / "k" / rel).read_bytes() == (runs["mid"] / rel).read_bytes(), rel


@pytest.mark.slow
def test_refusals_name_the_problem(runs: dict[str, Path], tmp_path: Path) -> None:
    home = runs["home"]
    r = _run(["assemble", "--from", str(runs["src"]), "--max-tokens", "32768", "--set", "walk.hops=3",
              "--out", str(tmp_path)], home, ok=False)
    assert r.returncode == 1 and "walk.hops" in r.stderr
    r = _run(["assemble", "--from", str(runs["src"]), "--max-tokens", "32768", "--name", "fresh",
              "--out", str(runs["out"])], home, ok=False)  # a directory built by `build`, not from src
    assert r.returncode == 1 and "not assembled from" in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    r = _run(["assemble", "--from", str(empty), "--max-tokens", "32768"], home, ok=False)
    assert r.returncode == 1 and "config.yaml" in r.stderr
    bad = tmp_path / "cur.yaml"
    bad.write_text("stages:\n  - {max_tokens: 32768, share: 1.0, shuffle: true}\n")
    r = _run(["assemble", "--from", str(runs["src"]), "--max-tokens", "32768", "--curriculum", str(bad),
              "--out", str(tmp_path)], home, ok=False)
    assert r.returncode == 1 and "shuffle" in r.stderr and str(bad) in r.stderr


@pytest.mark.slow
def test_curriculum_goes_short_to_long_in_every_format(runs: dict[str, Path]) -> None:
    import pyarrow.parquet as pq
    from datasets import load_from_disk

    cur = runs["cur"]
    info = json.loads((cur / "curriculum.json").read_text())
    assert [s["max_tokens"] for s in info["stages"]] == [L_SHORT, L_MID]
    hf = list(load_from_disk(str(cur / "export" / "hf")))
    slime = _lines(cur / "export" / "slime.jsonl")
    verl = pq.read_table(cur / "export" / "verl" / "train.parquet").to_pylist()
    assert len(hf) == len(slime) == len(verl) == info["train_rows"] == sum(s["rows"] for s in info["stages"])
    qids = [r["question_id"] for r in hf]
    assert len(set(qids)) == len(qids)  # each question once
    by_len = {L_SHORT: {str(s["question_id"]): s for s in _lines(runs["short"] / "samples.jsonl")},
              L_MID: {str(s["question_id"]): s for s in _lines(runs["mid"] / "samples.jsonl")}}
    n_short = info["stages"][0]["rows"]
    for i, r in enumerate(hf):  # stage by stage: the first rows are the short run's samples, then the long
        L = L_SHORT if i < n_short else L_MID
        s = by_len[L][r["question_id"]]
        assert r["n_tokens"] == s["n_tokens"] <= L
        assert r["messages"] == s["messages"] == slime[i]["input_messages"] == list(verl[i]["prompt"])
    # every question with a sample at some length is in the curriculum
    assert set(qids) == set(by_len[L_SHORT]) | set(by_len[L_MID])


def test_deal_shares_and_carry() -> None:
    from longtracerl.pipeline.curriculum import CurriculumConfig, deal, equal_schedule

    qs = [f"q{i}" for i in range(8)]
    cfg = equal_schedule([100_000, 50_000, 25_000, 12_500])
    assert [s.max_tokens for s in cfg.stages] == [12_500, 25_000, 50_000, 100_000]
    got = deal({n: set(qs) for n in (12_500, 25_000, 50_000, 100_000)}, cfg, seed=0)
    assert [len(v) for v in got.values()] == [2, 2, 2, 2]
    assert sorted(q for v in got.values() for q in v) == qs
    # two questions too long for the shortest stage: it takes what it can, the next stage makes up the rest
    short = set(qs[2:])
    got = deal({12_500: short, 25_000: set(qs), 50_000: set(qs), 100_000: set(qs)}, cfg, seed=0)
    assert set(got[12_500]) <= short and len(got[12_500]) == 2
    assert sorted(q for v in got.values() for q in v) == qs
    only_long = {12_500: set(), 25_000: set(), 50_000: set(), 100_000: set(qs)}
    got = deal(only_long, cfg, seed=0)
    assert got[100_000] and len(got[100_000]) == 8 and not got[12_500]
    with pytest.raises(ValueError, match="sum to 1"):
        CurriculumConfig.model_validate({"stages": [{"max_tokens": 1024, "share": 0.5}]})
    with pytest.raises(ValueError, match="short to long"):
        CurriculumConfig.model_validate({"stages": [{"max_tokens": 4096, "share": 0.5},
                                                    {"max_tokens": 1024, "share": 0.5}]})
    with pytest.raises(ValueError, match="extra"):
        CurriculumConfig.model_validate({"stages": [{"max_tokens": 1024, "share": 1}], "order": "random"})


def test_target_names() -> None:
    from longtracerl.pipeline.assemble import target_names

    src = Path("runs/wiki")
    assert target_names(src, [16384, 131072], None) == ["wiki-16k", "wiki-128k"]
    assert target_names(src, [16384], "w16") == ["w16"]
    assert target_names(src, [16384, 20000], "w") == ["w-16k", "w-20000"]
