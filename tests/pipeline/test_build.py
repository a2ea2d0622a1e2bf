"""``longtracerl build`` end to end on the sample world, through the real CLI in subprocesses: all outputs and
the report; kill -9 at several points then rerun == an uninterrupted run, byte for byte; Ray == local."""

from __future__ import annotations

import json
import os
import re
import shutil
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
    for rel in ["config.yaml", "manifest.json", *COMPARED, "report/report.md", "report/index.html", "report/context_lengths.png",
                "report/tier_composition.png", "report/mention_share.png"]:
        assert (run / rel).exists(), rel
    samples = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
    questions = {q["question_id"]: q for q in map(json.loads, (run / "questions.jsonl").read_text().splitlines())}
    trajs = {t["question_id"]: t for t in map(json.loads, (run / "trajectories.jsonl").read_text().splitlines())}
    assert len(samples) >= 3
    for s in samples:
        assert s["n_tokens"] < s["prompt_tokens"] <= 40000  # L bounds the prompt with its chat template
        by_tier: dict[str, set[str]] = {}
        for d in s["docs"]:
            by_tier.setdefault(d["tier"], set()).add(d["doc_id"])
        assert set(by_tier) <= {"gold", "tier1", "tier2", "fill"}
        # every gold page of the question; Tier-1 from the pages its agent opened, Tier-2 from results it never opened
        t = trajs[s["question_id"]]
        opened = {st["doc_id"] for st in t["steps"] if st["kind"] == "open" and not st.get("error")}
        results = {h["doc_id"] for st in t["steps"] if st["kind"] == "search" for h in st.get("results") or []}
        assert by_tier["gold"] == set(questions[s["question_id"]]["gold_doc_ids"]) and t["correct"]
        assert by_tier.get("tier1", set()) <= opened - by_tier["gold"]
        assert by_tier.get("tier2", set()) <= results - opened
    assert any("tier1" in {d["tier"] for d in s["docs"]} for s in samples)
    stats = json.loads((run / "report" / "stats.json").read_text())
    assert stats["counts"]["samples"] == len(samples)
    assert set(stats["strategies"]) == {"random", "one_shot_search", "trajectory_random", "trajectory_tiered"}
    assert stats["strategies"]["trajectory_tiered"]["share_pct"] is not None
    md = (run / "report" / "report.md").read_text()
    assert "trajectory_tiered" in md and "50.03" in md
    # which engine and analyzer the agent searched with
    assert stats["search"]["backend"] == "bm25" and stats["search"]["analyzer"] == "english"
    assert stats["search"]["n_docs"] == 256
    assert "## Search engine" in md and "**bm25** backend" in md and "analyzer `english`" in md
    manifest = json.loads((run / "manifest.json").read_text())
    assert all(manifest["stages"][s]["done"] for s in ("walk", "questions", "agent", "assembly", "export", "report"))
    cfg = (run / "config.yaml").read_text()
    assert "max_tokens: 40000" in cfg and "versions:" in cfg


def test_streamed_report_figures_equal_a_direct_count(reference: Path) -> None:
    """The report's statistics stream the stage files; recomputed here by loading every file whole."""
    from statistics import mean

    def rows(name: str) -> list[dict[str, object]]:
        return [json.loads(x) for x in (reference / name).read_text().splitlines() if x.strip()]

    samples, questions, trajs = rows("samples.jsonl"), rows("questions.jsonl"), rows("trajectories.jsonl")
    stats = json.loads((reference / "report" / "stats.json").read_text())
    n_tok = [int(s["prompt_tokens"]) for s in samples]  # type: ignore[call-overload]
    assert stats["counts"] == {"chains": len(rows("chains.jsonl")), "questions": len(questions),
                               "trajectories": len(trajs), "samples": len(samples),
                               "rejected": len(rows("rejected.jsonl"))}
    ct = stats["context_tokens"]
    assert (ct["min"], ct["max"], ct["mean"]) == (min(n_tok), max(n_tok), round(mean(n_tok), 1))
    assert ct["tokenizer"] == samples[0]["tokenizer"]
    for tier in ("gold", "tier1", "tier2", "fill"):
        per = [sum(1 for d in s["docs"] if d["tier"] == tier) for s in samples]  # type: ignore[attr-defined]
        assert stats["tiers_mean_docs"][tier] == round(mean(per), 2)
    qq = stats["questions_quality"]
    searches = [sum(1 for st in t["steps"] if st["kind"] == "search") for t in trajs]  # type: ignore[attr-defined]
    assert qq["mean_searches"] == round(mean(searches), 2)
    assert qq["answerable_by_construction_pct"] == round(100 * sum(
        "hop_unique" in q["validation"].get("passed", []) for q in questions) / len(questions), 2)  # type: ignore[attr-defined]
    ranks = [r for q in questions for r in q["validation"].get("reader_ranks", []) if r is not None]  # type: ignore[attr-defined]
    assert ranks and qq["reader_hops"] == len(ranks)
    assert qq["reader_first_pct"] == round(100 * sum(r == 1 for r in ranks) / len(ranks), 2)
    n_entity = sum(len(re.findall(r"\bentit(?:y|ies)\b", q["question"], re.I)) for q in questions)  # type: ignore[attr-defined]
    assert qq["entity_per_question"] == round(n_entity / len(questions), 2)
    through: dict[str, int] = {}
    for q in questions:
        for d in dict.fromkeys(q["gold_doc_ids"][1:-1]):  # type: ignore[index]
            through[d] = through.get(d, 0) + 1
    assert qq["busiest_middle_page"] == max(through.values()) <= 3  # questions.max_per_hub
    manifest = json.loads((reference / "manifest.json").read_text())
    assert qq["walk_variety"] == manifest["stages"]["walk"]["runs"][-1]["variety"]
    assert qq["walk_variety"]["rewalked"] == sum(bool(c["walk"].get("rewalked")) for c in rows("chains.jsonl"))  # type: ignore[attr-defined]
    solved = {t["question_id"] for t in trajs}
    assert [e["question_id"] for e in qq["examples"]] == [q["question_id"] for q in questions
                                                         if q["question_id"] in solved][:5]
    assert 0 <= stats["mention_share_pct"]["all_distractors"] <= 100


def test_tier_plot_groups_samples_beyond_400_bars(tmp_path: Path) -> None:
    """Past MAX_BARS samples the tier plot draws one bar per run of samples (their mean), not 100,000s of bars."""
    from longtracerl.pipeline.report import MAX_BARS, _plots, tier_bars

    few = {"gold": [1, 2, 3], "fill": [0, 0, 9]}
    assert tier_bars(few) == (few, 1)
    n = 1001
    tok = {t: [100 + i % 2 for i in range(n)] for t in ("gold", "tier1", "tier2", "fill")}
    bars, per_bar = tier_bars(tok)
    assert per_bar == 3 and len(bars["gold"]) == 334 <= MAX_BARS
    assert bars["gold"][:2] == [round(301 / 3), round(302 / 3)] and bars["gold"][-1] == 100  # the last run: 1 sample
    stats = {"_plot": {"n_tokens": [sum(v[i] for v in tok.values()) for i in range(n)], "tiers_tok": tok},
             "context_tokens": {"L": 1000}}
    assert _plots(tmp_path, stats) == ["context_lengths.png", "tier_composition.png"]


@pytest.mark.skipif(not any(map(shutil.which, ("chromium", "chromium-browser"))), reason="no chromium binary")
def test_report_page_renders_in_chromium(reference: Path) -> None:
    """The index.html the build wrote, run by headless Chromium (--dump-dom: the DOM after the script ran)."""
    samples = [json.loads(x) for x in (reference / "samples.jsonl").read_text().splitlines()]
    n_rej = len((reference / "rejected.jsonl").read_text().splitlines())
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    url = (reference / "report" / "index.html").as_uri() + "#sample=" + samples[0]["sample_id"]
    r = subprocess.run([str(exe), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", url],
                       capture_output=True, text=True, timeout=120)
    n = len(samples) + n_rej
    assert f'data-total="{n}">{n} shown of {n} matching<' in r.stdout
    tiers = re.findall(r'class="doc tier-(\w+)[^"]*" data-doc-id', r.stdout)
    assert tiers == [d["tier"] for d in samples[0]["docs"]]
    assert "Gold entities: " in r.stdout and 'id="trajectory"' in r.stdout


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


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A real multi-node Ray cluster simulated with Ray's own test utility: a head and a worker node (1 CPU each).

    Each node writes task outputs to its own scratch directory (keyed by node id); the world data (sample world)
    sits in one home every node reads. ``LONGTRACERL_TEST_KILL_WORKER_ONCE`` makes the first task anywhere kill
    its worker process (fault injection), so the build must survive a dead worker.
    """
    pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    scratch = tmp_path_factory.mktemp("scratch")
    marker = scratch / "worker-killed-once"
    env = {"LONGTRACERL_RAY_SCRATCH": str(scratch), "LONGTRACERL_TEST_KILL_WORKER_ONCE": str(marker),
           "LONGTRACERL_HOME": str(tmp_path_factory.getbasetemp() / "home")}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the nodes (and so their workers) inherit it
    try:
        c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
        c.add_node(num_cpus=1)
        c.wait_for_nodes()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    yield c.address, scratch, marker
    c.shutdown()


@pytest.mark.slow
def test_ray_cluster_equals_local_after_kills(reference: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
                                              cluster: tuple[str, Path, Path]) -> None:
    address, scratch, marker = cluster
    home = tmp_path_factory.getbasetemp() / "home"
    run = tmp_path / "ray"
    args = ["--ray-address", address, "--set", "executor.ray.batch_size=1"]
    # test-only throttle of assembly on the workers, so that the driver's kill -9 lands mid-stage
    slow = ["--set", "executor.ray.runtime_env={env_vars: {LONGTRACERL_TEST_ASSEMBLY_DELAY: '1.5'}}"]
    proc = subprocess.Popen(_cmd(tmp_path, "ray", *args, *slow), env=_env(home), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    assert _kill_when(proc, lambda: _lines(run / "samples.jsonl") >= 1 and "assembly" not in _manifest(run), 300)
    n_partial = _lines(run / "samples.jsonl")
    _build(tmp_path, "ray", home, *args)
    assert 1 <= n_partial < _lines(run / "samples.jsonl")
    assert marker.exists()  # a worker died in a task; Ray reran its batch and nothing was duplicated
    _same(reference, run)
    manifest = json.loads((run / "manifest.json").read_text())["stages"]
    for stage in ("walk", "questions", "agent", "assembly", "report"):
        assert manifest[stage]["runs"][-1].get("executor") == "ray" or stage == "report", stage
    last = manifest["assembly"]["runs"][-1]
    assert last["cluster"]["nodes"] == 2 and last["batch_size"] == 1
    assert manifest["report"]["runs"][-1]["strategies"]["executor"] == "ray"
    # task outputs went to each node's own scratch, never into the driver's run directory
    assert len([d for d in scratch.iterdir() if d.is_dir()]) == 2
    assert not (run / "parts").exists() or not any((run / "parts").rglob("*.jsonl"))
    md = (run / "report" / "report.md").read_text()
    assert "## Execution" in md and address in md


@pytest.mark.slow
def test_ray_results_through_an_output_url(reference: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
                                           cluster: tuple[str, Path, Path]) -> None:
    """executor.ray.output_url (a file:// URL here; s3:// or gs:// on a real cluster): every task writes its
    records there and returns only their URLs; the build is byte-identical and the URL is left empty."""
    address = cluster[0]
    home = tmp_path_factory.getbasetemp() / "home"
    url_dir = tmp_path / "objects"
    run = _build(tmp_path, "via-url", home, "--ray-address", address, "--set", f"executor.ray.output_url=file://{url_dir}")
    _same(reference, run)
    manifest = json.loads((run / "manifest.json").read_text())["stages"]
    for stage in ("walk", "questions", "agent", "assembly"):
        last = manifest[stage]["runs"][-1]
        assert last["executor"] == "ray" and last["tasks"] >= 1 and last.get("via_url") == last["tasks"], (stage, last)
    assert not url_dir.exists() or not any(p.is_file() for p in url_dir.rglob("*")), list(url_dir.rglob("*"))


@pytest.mark.slow
def test_build_submitted_as_a_ray_job(reference: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The `ray job submit` route of docs/scale.md: a cluster with its dashboard (job server), the build submitted
    through Ray's JobSubmissionClient, its driver running inside the cluster (RAY_ADDRESS set by Ray, so the
    build joins instead of starting its own Ray): the run directory equals the local build's."""
    pytest.importorskip("ray.dashboard")
    from ray.cluster_utils import Cluster
    from ray.job_submission import JobStatus, JobSubmissionClient

    from longtracerl.netutil import free_port

    home = tmp_path_factory.getbasetemp() / "home"
    port = free_port()
    # free ports for the job server and its agent: Ray's fixed defaults collide with any other Ray on the machine
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": True,
                                                      "dashboard_host": "127.0.0.1", "dashboard_port": port,
                                                      "dashboard_agent_listen_port": free_port()})
    try:
        client = JobSubmissionClient(f"http://127.0.0.1:{port}")
        cmd = " ".join(_cmd(tmp_path, "job", "--executor", "ray"))
        env = {"LONGTRACERL_HOME": str(home), "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
        job = None
        for _ in range(120):  # the job agent comes up a few seconds after the dashboard
            try:
                job = client.submit_job(entrypoint=cmd, runtime_env={"env_vars": env})
                break
            except RuntimeError as e:
                assert "agent" in str(e), e
                time.sleep(1)
        assert job is not None
        deadline = time.time() + 600
        while client.get_job_status(job) not in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED):
            assert time.time() < deadline
            time.sleep(1)
        logs = client.get_job_logs(job)
        assert client.get_job_status(job) == JobStatus.SUCCEEDED, logs[-3000:]
    finally:
        c.shutdown()
    run = tmp_path / "job"
    _same(reference, run)
    last = json.loads((run / "manifest.json").read_text())["stages"]["assembly"]["runs"][-1]
    assert last["executor"] == "ray" and last["cluster"]["address"] != "local"  # joined the job's cluster


def test_workers_run_the_drivers_package(cluster: tuple[str, Path, Path]) -> None:
    """The package ships through runtime_env py_modules: workers import this source tree's code, not another."""
    import ray

    import longtracerl
    from longtracerl.config import RaySettings
    from longtracerl.pipeline.ray_cluster import connect, package_fingerprint

    info = connect(RaySettings(address=cluster[0]))
    try:
        assert info["nodes"] == 2 and info["code"] == "py_modules (this package)"

        @ray.remote(num_cpus=0.5)
        def probe() -> tuple[str, str, str]:
            import longtracerl as lt
            from longtracerl.pipeline.ray_cluster import package_fingerprint as fp

            return lt.__file__, lt.__version__, fp()

        got = ray.get([probe.options(scheduling_strategy="SPREAD").remote() for _ in range(4)])
        for file, version, fingerprint in got:
            assert fingerprint == package_fingerprint() and version == longtracerl.__version__
            assert "runtime_resources" in file and file != longtracerl.__file__  # the uploaded copy
    finally:
        ray.shutdown()


def test_unreachable_ray_address_is_one_line_within_seconds(tmp_path: Path,
                                                            tmp_path_factory: pytest.TempPathFactory) -> None:
    from longtracerl.netutil import free_port

    home = tmp_path_factory.getbasetemp() / "home"
    t0 = time.time()
    r = subprocess.run(_cmd(tmp_path, "x", "--ray-address", f"127.0.0.1:{free_port()}"), env=_env(home),
                       capture_output=True, text=True, timeout=120)
    took = time.time() - t0
    assert r.returncode == 1, r.stderr[-2000:]
    err = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(err) == 1 and err[0].startswith("error: cannot reach the Ray cluster at 127.0.0.1:"), r.stderr
    assert took < 30, took
    assert not (tmp_path / "x" / "chains.jsonl").exists()


@pytest.mark.slow
@pytest.mark.llm
@pytest.mark.timeout(1800)  # embeds the 256 sample pages with the bundled model, then every agent query
def test_build_with_a_hybrid_index_reports_it(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
                                              embed_server: str) -> None:
    """The sample world indexed as hybrid (BM25 + the bundled model's embeddings of each page's title and
    first words), passed as ``world.index``: the agent searches it and the report says so."""
    from longtracerl.corpus.docstore import DocStore
    from longtracerl.corpus.embeddings import EmbeddingClient
    from longtracerl.corpus.indexes import build_search_index
    from longtracerl.corpus.sample_world import ensure_sample_world

    home = tmp_path_factory.getbasetemp() / "home"
    w = ensure_sample_world(progress=False)
    assert Path(w.root).is_relative_to(home)
    with EmbeddingClient(embed_server) as client:
        build_search_index(tmp_path / "hix", DocStore.open(w.docstore_dir), backend="hybrid", client=client,
                           max_chars=48, batch_size=16, progress=False)
    run = _build(tmp_path, "hy", home, "--set", f"world.index={tmp_path / 'hix'}", "--set", "world.dense_weight=0.5",
                 "--set", "walk.n_chains=2", "--set", "distractors.compare_all=false")  # every search embeds a query
    stats = json.loads((run / "report" / "stats.json").read_text())
    assert stats["search"]["backend"] == "hybrid" and stats["search"]["analyzer"] == "english"
    assert stats["search"]["embedding_dim"] == 576 and stats["search"]["dense_weight"] == 0.5
    assert stats["counts"]["samples"] >= 1
    md = (run / "report" / "report.md").read_text()
    assert "**hybrid** backend" in md and "dense rank weight 0.5" in md


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
    assert b.executor.kind == "ray" and b.walk.hops == 8 and b.llm.base_url == "http://127.0.0.1:1/v1"


def test_report_shows_names_not_words(reference: Path) -> None:
    """The report's mention-quality and answer-kind figures, recounted from the run's files and graph."""
    from collections import Counter

    from longtracerl.graph.sample import load_sample_graph

    stats = json.loads((reference / "report" / "stats.json").read_text())
    sec = stats["names_not_words"]
    questions = [json.loads(x) for x in (reference / "questions.jsonl").read_text().splitlines() if x.strip()]
    kinds = Counter(q["validation"]["answer_kind"] for q in questions)
    assert sum(sec["answers_by_kind"].values()) == len(questions) and sec["answers_by_kind"]["concept"] == 0
    assert all(sec["answers_by_kind"][k] == v for k, v in kinds.items())
    g = load_sample_graph()
    assert sec["graph"]["mention_edges"] == sum(v for k, v in stats_relations(g).items() if k.startswith("mentions"))
    assert sec["graph"]["most_linked"][0][1] == int(g.in_degree.max())
    assert sec["graph"]["mention_edges_dropped"]["longer_name"] == g.meta["counts"]["mention_edges_dropped_longer_name"]
    md = (reference / "report" / "report.md").read_text()
    assert "## Names, not words" in md and "Kept questions by answer kind: named_entity" in md


def stats_relations(g: object) -> dict[str, int]:
    from longtracerl.graph.stats import graph_stats

    return graph_stats(g, components=False)["relations"]  # type: ignore[arg-type]
