"""The framework examples in examples/ stay in sync with the code they point at."""

from __future__ import annotations

import asyncio
import importlib
import re
import shlex
from pathlib import Path

import pytest

from longtracerl.reward.adapters._common import CONFIG_ENV, get_reward, load_reward_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_reward_config_example_loads_and_env_var_is_honoured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = load_reward_config(EXAMPLES / "reward_config.yaml")
    assert (cfg.eta, cfg.strategy, cfg.normalize, cfg.judge.prompt) == (0.3, "positive_only", True, "hle")
    other = tmp_path / "r.yaml"
    other.write_text("eta: 0.5\n")
    monkeypatch.setenv(CONFIG_ENV, str(other))
    assert get_reward().config.eta == 0.5
    from longtracerl.reward.adapters.slime import group_reward_func

    class S:  # minimal sample: only what the group reward reads
        def __init__(self, response: str) -> None:
            self.response, self.label, self.status = response, "Paris", "completed"
            self.metadata = {"extra_reward_info": {"rubrics": ["France", "Europe"]}}

    out = asyncio.run(group_reward_func(None, [S("Paris, France, Europe"), S("Paris, France")]))
    assert out == pytest.approx([1.0, 0.75])  # eta 0.5 from the file: 0.5 + 0.5 * 0.5
    bad = tmp_path / "bad.yaml"
    bad.write_text("eta: 3\n")
    with pytest.raises(ValueError, match=r"(?s)bad\.yaml.*eta"):
        load_reward_config(bad)


def test_verl_script_overrides_match_the_recipe_and_compose() -> None:
    verl = pytest.importorskip("verl")
    import os

    from hydra import compose, initialize_config_dir

    from longtracerl.train.grpo_config import PaperGRPOConfig

    text = (EXAMPLES / "verl_grpo.sh").read_text()
    overrides = [shlex.split(line.strip().rstrip("\\"))[0] for line in text.splitlines()
                 if re.match(r"^\s+[a-z_.]+=", line) and "$" not in line]
    recipe = PaperGRPOConfig().to_verl_overrides()
    norm = {o.replace("'", "") for o in recipe}
    assert set(overrides) == {o for o in norm if not o.startswith("data.seed")}, set(overrides) ^ norm
    cfg_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    with initialize_config_dir(config_dir=cfg_dir, version_base=None):
        c = compose(config_name="ppo_trainer", overrides=overrides)
    assert c.algorithm.adv_estimator == "longtrace_grpo"


def test_slime_script_paths_resolve() -> None:
    text = (EXAMPLES / "slime_reward.sh").read_text()
    paths = re.findall(r"longtracerl\.[a-z_.]+", text)
    assert len(set(paths)) == 3
    for p in paths:
        module, name = p.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), name))


def test_trl_example_imports() -> None:
    pytest.importorskip("trl")
    import importlib.util

    spec = importlib.util.spec_from_file_location("trl_grpo_example", str(EXAMPLES / "trl_grpo.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # imports only; main() runs under __main__
    assert callable(module.main)


def test_reward_config_env_is_a_file_path_for_adapters_and_server(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    """One meaning of $LONGTRACERL_REWARD_CONFIG: the path of a YAML/JSON file, read by one loader for the
    adapters and the reward server (``app_from_env``, what ``serve-reward``'s workers build)."""
    from fastapi.testclient import TestClient

    from longtracerl.reward.server import app_from_env

    as_json = tmp_path / "r.json"
    as_json.write_text('{"reward": {"eta": 0.5, "strategy": "all"}}')  # a build config's section works too
    monkeypatch.setenv(CONFIG_ENV, str(as_json))
    assert (load_reward_config().eta, load_reward_config().strategy) == (0.5, "all")
    with TestClient(app_from_env()) as client:
        health = client.get("/health").json()
        assert (health["eta"], health["strategy"]) == (0.5, "all")
        # no rubric_reward_ratio in the request: the server's eta is paid (0.5 * 1 + 0.5 * 0.5)
        r = client.post("/evaluate", json={"label": "Lyon", "response": "Lyon, not Paris",
                                           "extra_reward_info": {"rubrics": ["Paris", "Rhone"]}}).json()
        assert r["reward"] == pytest.approx(0.75)
        # the client's ratio overrides it
        r = client.post("/evaluate", json={"label": "Lyon", "response": "Lyon, not Paris",
                                           "extra_reward_info": {"rubrics": ["Paris", "Rhone"],
                                                                 "rubric_reward_ratio": 0.0}}).json()
        assert r["reward"] == 1.0
    monkeypatch.setenv(CONFIG_ENV, '{"eta": 0.5}')  # what serve-reward used to put there
    with pytest.raises(ValueError, match="inline JSON.*path of a YAML or JSON file"):
        load_reward_config()
    with pytest.raises(ValueError, match="inline JSON"):
        app_from_env()
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "missing.yaml"))
    with pytest.raises(FileNotFoundError, match=r"missing\.yaml.*LONGTRACERL_REWARD_CONFIG"):
        load_reward_config()
