"""``--preset paper`` and the settings-vs-paper table (default and paper preset)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from longtracerl.config import BuildConfig
from longtracerl.presets import (
    NOT_STATED,
    PresetError,
    check_build_requirements,
    eval_settings,
    settings_table,
    table_markdown,
)
from longtracerl.reward import RewardConfig
from longtracerl.train.grpo_config import PaperGRPOConfig


def _by(rows: list[dict]) -> dict[str, dict]:  # type: ignore[type-arg]
    return {r["setting"]: r for r in rows}


def test_paper_preset_sets_every_stated_setting() -> None:
    c = BuildConfig.load(extra={"preset": "paper"})
    assert (c.walk.hops, c.walk.chooser, c.walk.max_candidates) == (8, "llm", 5)
    assert (c.questions.writer, c.agent.kind, c.agent.attempts, c.outcome.scorer) == ("llm", "llm", 5, "judge")
    assert c.distractors.strategy == "trajectory_tiered" and c.assembly.max_tokens == 131072
    r = RewardConfig(preset="paper")
    assert (r.outcome, r.format, r.rubric_mode, r.use_reasoning, r.eta, r.strategy, r.judge.tries) == \
        ("judge", "released", "reference", False, 0.3, "positive_only", 3)
    assert eval_settings("paper") == {"temperature": 0.6, "top_p": 0.95, "top_k": 20, "samples": 4,
                                      "max_tokens": 32000, "max_context_tokens": 160000}
    assert eval_settings("paper", temperature=1.0, top_k=None)["temperature"] == 1.0


def test_paper_preset_leaves_a_reasoning_model_room_to_think(tmp_path: Path) -> None:
    """The paper's models think before they act: its agent turns and judge calls get budgets a thinking model
    can finish in (the default 512 cut a reasoning reply), and the build hands them to the agent and judge."""
    from longtracerl.pipeline.context import RunContext
    from longtracerl.pipeline.stages import AgentStage

    c = BuildConfig.load(extra={"preset": "paper", "out": str(tmp_path), "llm.kind": "openai",
                                "llm.base_url": "http://127.0.0.1:9/v1", "llm.model": "m"})
    assert (c.agent.max_tokens, c.outcome.judge_max_tokens) == (4096, 2048)
    assert (BuildConfig().agent.max_tokens, BuildConfig().outcome.judge_max_tokens) == (512, 512)
    ctx = RunContext(c)
    assert AgentStage().agent(ctx).max_tokens == 4096
    assert AgentStage().scorer(ctx).max_tokens == 2048
    rows = _by(settings_table(build=c))
    assert rows["agent tokens per turn (thinking included)"]["ours"] == "4096"


def test_yaml_flags_and_set_override_the_preset(tmp_path: Path) -> None:
    y = tmp_path / "b.yaml"
    y.write_text("preset: paper\nwalk:\n  hops: 6\n")
    c = BuildConfig.load(y, overrides=["walk.max_candidates=3"], extra={"agent.attempts": 2})
    assert (c.preset, c.walk.hops, c.walk.max_candidates, c.agent.attempts, c.walk.chooser) == ("paper", 6, 3, 2, "llm")
    # the resolved config round-trips (resume compares it with config.yaml)
    assert BuildConfig.model_validate(c.model_dump(mode="json")) == c
    assert RewardConfig(preset="paper", rubric_mode="word").rubric_mode == "word"
    with pytest.raises(ValueError, match="unknown preset"):
        BuildConfig.load(extra={"preset": "papers"})


def test_paper_preset_needs_an_llm_and_a_tokenizer() -> None:
    with pytest.raises(PresetError, match="--llm openai --base-url"):
        check_build_requirements(BuildConfig.load(extra={"preset": "paper"}))
    with pytest.raises(PresetError, match="--tokenizer"):
        check_build_requirements(BuildConfig.load(extra={"preset": "paper", "llm.kind": "local"}))
    check_build_requirements(BuildConfig.load(extra={"preset": "paper", "llm.kind": "local",
                                                     "assembly.tokenizer": "tok"}))
    check_build_requirements(BuildConfig())  # the default preset needs nothing


def test_build_cli_fails_at_once_naming_the_flag(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "longtracerl.cli", "build", "--preset", "paper", "--out",
                        str(tmp_path), "--quiet"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--llm openai --base-url" in r.stderr
    assert not (tmp_path / "default").exists()  # nothing written
    r = subprocess.run([sys.executable, "-m", "longtracerl.cli", "build", "--preset", "paper", "--llm", "openai",
                        "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--out", str(tmp_path), "--quiet"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--tokenizer" in r.stderr and len(r.stderr.strip().splitlines()) <= 3


def test_table_for_the_default_config() -> None:
    rows = settings_table(build=BuildConfig(), reward=RewardConfig(), grpo=PaperGRPOConfig(),
                          eval=eval_settings("default"))
    assert all(set(r) == {"setting", "ours", "paper", "differs"} for r in rows)
    b = _by(rows)
    # our offline defaults differ from the paper where it matters, and the table says so
    for k in ("walk: moves per walk", "walk: next-hop chooser", "question writer", "search agent",
              "reward: outcome", "reward: format gate", "reward: rubric matching"):
        assert b[k]["differs"] is True, k
    assert b["walk: moves per walk"] == {"setting": "walk: moves per walk", "ours": "4", "paper": "8", "differs": True}
    assert b["reward: eta (rubric weight)"]["differs"] is False
    assert b["search agent"]["ours"] == "solver"  # what an LLM-free build really runs (pipeline/stages.py)
    assert b["walk: random-jump probability"]["paper"] == NOT_STATED and not b["walk: random-jump probability"]["differs"]
    assert not any(r["differs"] for r in rows if r["setting"].startswith(("GRPO", "eval")))
    assert _by(settings_table(eval=eval_settings(temperature=0.0)))["eval: temperature"]["differs"] is True
    md = table_markdown(rows)
    assert md.splitlines()[0].startswith(f"{sum(r['differs'] for r in rows)} of {len(rows)} settings differ")
    assert "| ≠ | walk: moves per walk | 4 | 8 |" in md


def test_table_for_the_paper_preset() -> None:
    build = BuildConfig.load(extra={"preset": "paper", "llm.kind": "openai", "llm.base_url": "http://x/v1",
                                    "llm.model": "big", "assembly.tokenizer": "Qwen/Qwen3-4B-Thinking-2507"})
    rows = settings_table(build=build, reward=RewardConfig(preset="paper"), grpo=PaperGRPOConfig(),
                          eval=eval_settings("paper"))
    differ = [r["setting"] for r in rows if r["differs"]]
    # only the judge's wording differs: ours is written in our own words (a prompt file can carry theirs)
    assert differ == ["reward: judge prompt"]
    b = _by(rows)
    assert b["tokenizer counting L"]["ours"] == "Qwen/Qwen3-4B-Thinking-2507"
    assert b["LLM for every role (walk, writer, agent, judge)"]["ours"] == "big"
    r = RewardConfig(preset="paper", judge={"prompt_file": "released.txt"})
    assert not _by(settings_table(reward=r))["reward: judge prompt"]["differs"]


def test_bad_tokenizer_or_judge_file_fail_before_any_stage(tmp_path: Path) -> None:
    base = [sys.executable, "-m", "longtracerl.cli", "build", "--out", str(tmp_path), "--quiet", "--n-chains", "2"]
    r = subprocess.run([*base, "--name", "t", "--tokenizer", str(tmp_path / "no-tok")], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1 and "no-tok" in r.stderr and "no such directory" in r.stderr
    assert not (tmp_path / "t" / "chains.jsonl").exists()
    bad = tmp_path / "judge.txt"
    bad.write_text("{response} only")
    r = subprocess.run([*base, "--name", "j", "--set", "outcome.scorer=judge", "--judge-prompt-file", str(bad)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "correct_answer" in r.stderr and not (tmp_path / "j").exists()


def test_a_run_started_before_new_settings_existed_still_resumes(tmp_path: Path) -> None:
    import yaml

    from longtracerl.pipeline.context import ConfigMismatch, RunContext

    cfg = BuildConfig.load(extra={"out": str(tmp_path)})
    old = cfg.model_dump(mode="json")
    del old["preset"]
    del old["outcome"]["judge_tries"]  # written by an older version, which had neither setting
    (tmp_path / "default").mkdir()
    (tmp_path / "default" / "config.yaml").write_text(yaml.safe_dump(old))
    RunContext(cfg, progress=False).check_config()  # the defaults of the new settings: same config
    with pytest.raises(ConfigMismatch, match="preset"):
        RunContext(BuildConfig.load(extra={"out": str(tmp_path), "preset": "paper"}), progress=False).check_config()
