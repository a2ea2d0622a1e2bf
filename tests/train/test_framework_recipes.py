"""Each framework's recipe passes that framework's OWN parser / validator (CPU, no GPU, no launch)."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from longtracerl.train.grpo_config import PaperGRPOConfig
from longtracerl.train.recipes import OPENRLHF_OLD_SPELLING, openrlhf_args, slime_args

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

# ------------------------------------------------------------------ verl


def _verl_compose(overrides: list[str]) -> Any:
    verl = pytest.importorskip("verl")
    from hydra import compose, initialize_config_dir

    cfg_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    with initialize_config_dir(config_dir=cfg_dir, version_base=None):
        return compose(config_name="ppo_trainer", overrides=overrides)


def _verl_validate(c: Any) -> None:
    """What ``verl.trainer.main_ppo.main`` runs before it starts Ray."""
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config
    from verl.utils.device import auto_set_device

    auto_set_device(c)
    validate_config(config=c, use_reference_policy=need_reference_policy(c), use_critic=need_critic(c))


def _with_model(overrides: list[str]) -> list[str]:
    return [*overrides, "actor_rollout_ref.model.path=Qwen/Qwen3-4B-Thinking-2507"]


@pytest.mark.parametrize(("nnodes", "gpus", "micro"), [(1, 8, 0), (4, 8, 0), (1, 8, 2), (4, 8, 1)])
def test_verl_overrides_pass_verls_validate_config(nnodes: int, gpus: int, micro: int) -> None:
    ov = PaperGRPOConfig().to_verl_overrides(nnodes=nnodes, gpus_per_node=gpus, micro_batch_per_gpu=micro)
    c = _verl_compose(_with_model(ov))
    _verl_validate(c)  # raises (ValueError / AssertionError) on a recipe verl would refuse
    a = c.actor_rollout_ref.actor
    assert (c.trainer.nnodes, c.trainer.n_gpus_per_node) == (nnodes, gpus)
    assert a.use_dynamic_bsz is (micro == 0) and c.actor_rollout_ref.rollout.log_prob_use_dynamic_bsz is (micro == 0)
    if micro:
        assert a.ppo_micro_batch_size_per_gpu == micro == c.actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu
    else:
        assert a.ppo_max_token_len_per_gpu == 131072 + 32768


def test_verl_validate_config_rejects_the_old_recipe() -> None:
    """Control: without micro batch sizes or dynamic batch size, verl's validator refuses (the bug of #13)."""
    old = [o for o in PaperGRPOConfig().to_verl_overrides()
           if "dynamic_bsz" not in o and "max_token_len" not in o and "micro_batch" not in o]
    from hydra.errors import InstantiationException

    with pytest.raises((ValueError, AssertionError, InstantiationException), match="micro_batch_size"):
        _verl_validate(_verl_compose(_with_model(old)))


def test_verl_example_script_is_the_recipe_and_validates() -> None:
    text = (EXAMPLES / "verl_grpo.sh").read_text()
    overrides = [shlex.split(line.strip().rstrip("\\"))[0] for line in text.splitlines()
                 if re.match(r"^\s+[a-z_.]+=", line) and "$" not in line]
    recipe = {o.replace("'", "") for o in PaperGRPOConfig().to_verl_overrides() if not o.startswith("data.seed")}
    assert set(overrides) == recipe, set(overrides) ^ recipe
    _verl_validate(_verl_compose(_with_model(overrides)))


def _write_dist_info(site: Path) -> None:
    """A minimal installed-package record carrying pyproject's ``verl.plugins`` entry point, so verl's own
    entry-point discovery finds it exactly as it finds the pip-installed package."""
    eps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["verl.plugins"]
    info = site / "longtracerl_plugin_probe-0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: longtracerl-plugin-probe\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text("[verl.plugins]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))


_PROBE = (
    "import verl\n"  # only verl: nothing of longtracerl is imported by this process itself
    "from verl.trainer.ppo.core_algos import get_adv_estimator_fn\n"
    "fn = get_adv_estimator_fn('longtrace_grpo')\n"
    "print('REGISTERED', fn.__module__)\n"
)


def _probe(env_extra: dict[str, str], site: Path | None) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("verl")
    env = dict(os.environ)
    paths = [str(ROOT / "src")] + ([str(site)] if site else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, timeout=300)


def test_estimator_registers_in_any_verl_process_via_the_plugin_entry_point(tmp_path: Path) -> None:
    """However the reward is wired (manager, compute_score, remote), a process that imports verl has the
    estimator: verl loads ``verl.plugins`` entry points at import. Without it: verl's "Unknown" error."""
    _write_dist_info(tmp_path)
    ok = _probe({"VERL_USE_EXTERNAL_PLUGINS": "auto"}, tmp_path)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "REGISTERED longtracerl.reward.adapters.verl_advantage" in ok.stdout
    off = _probe({"VERL_USE_EXTERNAL_PLUGINS": "none"}, tmp_path)  # control: the plugin is what registers it
    assert off.returncode != 0 and "longtrace_grpo" in off.stderr


def test_estimator_registers_via_verl_external_modules_hook() -> None:
    ok = _probe({"VERL_USE_EXTERNAL_PLUGINS": "none",
                 "VERL_USE_EXTERNAL_MODULES": "longtracerl.reward.adapters.verl_plugin"}, None)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "REGISTERED" in ok.stdout


# ------------------------------------------------------------------ OpenRLHF


def _openrlhf_source() -> Path:
    spec = importlib.util.find_spec("openrlhf")  # locate only: importing openrlhf needs deepspeed / vllm
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("openrlhf not installed (scripts/dev.sh installs openrlhf==0.11.2 --no-deps)")
    return Path(next(iter(spec.submodule_search_locations)))


def _openrlhf_parse(argv: list[str]) -> Any:
    """Run OpenRLHF's own ``train_ppo_ray`` parser and its post-parse checks from the installed source.

    Its parser is built inline under ``if __name__ == "__main__"`` (next to Ray / DeepSpeed imports), so the
    statements from ``ArgumentParser()`` to the checks before ``train(args)`` are executed as written.
    """
    src = _openrlhf_source()
    tree = ast.parse((src / "cli" / "train_ppo_ray.py").read_text())
    main = next(n for n in tree.body if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test))
    body = main.body
    start = next(i for i, n in enumerate(body) if "ArgumentParser(" in ast.unparse(n))
    parse = next(i for i, n in enumerate(body) if "parse_args(" in ast.unparse(n))
    stop = next(i for i, n in enumerate(body) if i > parse and ("use_ms" in ast.unparse(n) or "train(args)" in ast.unparse(n)))
    cfg_spec = importlib.util.spec_from_file_location("openrlhf_config_probe", src / "utils" / "config.py")
    assert cfg_spec is not None and cfg_spec.loader is not None
    cfg_mod = importlib.util.module_from_spec(cfg_spec)
    cfg_spec.loader.exec_module(cfg_mod)
    stdlib = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)
              and all((a.name if isinstance(n, ast.Import) else n.module or "").split(".")[0] in sys.stdlib_module_names
                      for a in n.names)]
    ns: dict[str, Any] = {}
    exec(compile(ast.Module(body=stdlib, type_ignores=[]), "train_ppo_ray", "exec"), ns)  # noqa: S102
    exec(compile(ast.Module(body=body[start:parse], type_ignores=[]), "train_ppo_ray", "exec"), ns)  # noqa: S102
    args = cfg_mod.hierarchize(ns["parser"].parse_args(argv))
    post = [n for n in body[parse + 1 : stop] if "hierarchize" not in ast.unparse(n)]
    ns["args"] = args
    exec(compile(ast.Module(body=post, type_ignores=[]), "train_ppo_ray", "exec"), ns)  # noqa: S102
    return ns["args"]


def test_openrlhf_parser_accepts_our_command() -> None:
    args = _openrlhf_parse(openrlhf_args(model="Qwen/Qwen3-4B", data="train.jsonl", nnodes=4, gpus_per_node=8))
    assert args.reward.remote_url == ["examples/openrlhf_reward.py"]
    assert args.data.label_key == "label" and args.data.input_key == "input_messages"
    assert (args.rollout.n_samples_per_prompt, args.rollout.batch_size, args.train.batch_size) == (8, 16, 128)
    assert args.algo.advantage.estimator == "group_norm" and args.algo.kl.init_coef == 0.0
    assert tuple(args.actor.eps_clip_low_high) == (0.2, 0.28) and list(args.actor.adam.betas) == [0.9, 0.98]
    assert args.algo.advantage.is_correction_threshold == [0.5, 2.0]
    assert args.actor.adam.lr == 2e-6 and args.actor.lr_scheduler == "constant"


def test_openrlhf_parser_rejects_the_pre_0_10_2_spelling() -> None:
    """The README used to print ``--remote_rm_url ... --label_key``: OpenRLHF >= 0.10.2 refuses it."""
    old = ["--actor.model_name_or_path", "M", "--remote_rm_url", "examples/openrlhf_reward.py", "--label_key", "label"]
    with pytest.raises(SystemExit):
        _openrlhf_parse(old)
    assert OPENRLHF_OLD_SPELLING["--reward.remote_url"] == "--remote_rm_url"


def test_readme_and_docs_openrlhf_commands_are_the_checked_ones() -> None:
    ours = shlex.join(openrlhf_args())
    for doc in (ROOT / "README.md", ROOT / "docs" / "adapters.md"):
        text = doc.read_text()
        assert "--remote_rm_url examples" not in text, doc
        assert "--reward.remote_url examples/openrlhf_reward.py" in text, doc
    script = (EXAMPLES / "openrlhf_grpo.sh").read_text()
    cmd = shlex.split(script.split("python -m openrlhf.cli.train_ppo_ray", 1)[1].replace("\\\n", " "))
    assert cmd[-1] == "$@"
    assert cmd[:-1] == openrlhf_args(model="${MODEL:?model}", data="${DATA:?data}")
    assert "ONE RESPONSE AT A TIME" in script  # where the user reads the command, the group limit is said
    _openrlhf_parse(cmd[:-1])
    assert ours.startswith("--actor.model_name_or_path")


# ------------------------------------------------------------------ TRL


def test_trl_refuses_a_layout_that_splits_groups_across_processes(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    from trl import GRPOConfig

    cfg = PaperGRPOConfig(num_generations=4, prompts_per_step=3)
    # TRL itself accepts this shape: the generation batch (12) is a multiple of G (4) ...
    kw = cfg.to_trl_kwargs(per_device_train_batch_size=2, num_processes=1)
    args = GRPOConfig(output_dir=str(tmp_path), use_cpu=True, report_to=[], **kw)
    assert args.generation_batch_size % args.num_generations == 0
    # ... but on 2 processes each would score 6 completions: one group of 4 split in two. Refused up front.
    with pytest.raises(ValueError, match=r"split across processes.*multiple of the number of processes \(2\)"):
        cfg.to_trl_kwargs(per_device_train_batch_size=2, num_processes=2)
    ok = PaperGRPOConfig().to_trl_kwargs(per_device_train_batch_size=4, num_processes=4)  # paper: 16 prompts / 4
    assert ok["per_device_train_batch_size"] * ok["steps_per_generation"] % 8 == 0


# ------------------------------------------------------------------ slime


def test_slime_command_evaluates_on_the_outcome() -> None:
    argv = slime_args()
    assert argv[argv.index("--eval-reward-key") + 1] == "outcome_reward"
    assert argv[argv.index("--reward-key") + 1] == "reward"
    script = (EXAMPLES / "slime_reward.sh").read_text()
    assert "--eval-reward-key outcome_reward" in script and "--eval-reward-key outcome_reward" in (ROOT / "README.md").read_text()
    from longtracerl.reward.adapters import slime

    class S:
        response, label, status = "Paris, France", "Paris", "completed"
        metadata = {"extra_reward_info": {"rubrics": ["France", "Seine"]}}

    import asyncio

    class Wrong(S):
        response = "Lyon, France"

    # the key the eval reads is the outcome alone: 1 for the right answer, 0 for a wrong one (same rubric hits)
    out, wrong = asyncio.run(slime.reward_func(None, S())), asyncio.run(slime.reward_func(None, Wrong()))
    assert (out["outcome_reward"], wrong["outcome_reward"]) == (1.0, 0.0)
    assert out["rubric_reward"] == wrong["rubric_reward"] == 0.5  # France named, Seine not: one of two rubric entities


def test_readme_verl_and_slime_commands_are_the_recipe() -> None:
    text = (ROOT / "README.md").read_text()
    block = text.split("python -m verl.trainer.main_ppo ...", 1)[1].split("```", 1)[0]
    shown = [t for t in shlex.split(block.replace("\\\n", " ")) if "=" in t]
    recipe = {o.replace("'", "") for o in PaperGRPOConfig().to_verl_overrides()}
    assert shown and set(shown) <= recipe, set(shown) - recipe
    slime = " ".join(slime_args())
    for flag in ("--custom-rm-path", "--reward-key", "--eval-reward-key", "--custom-reward-post-process-path"):
        i = slime.index(flag)
        assert slime[i:].split()[1] in text.split(flag, 1)[1].split()[0], flag
