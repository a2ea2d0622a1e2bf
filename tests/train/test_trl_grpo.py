"""``train_grpo`` and ``longtracerl train grpo``: real TRL GRPO steps on CPU on the released JSONL format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")

from longtracerl.train.grpo_config import PaperGRPOConfig  # noqa: E402
from longtracerl.train.trl_grpo import load_dataset, read_slime_jsonl, train_grpo  # noqa: E402


def _jsonl(path: Path) -> Path:
    rows = [
        ("Which capital lies on the Seine?", "Paris", ["France", "Seine"]),
        ("Which continent holds France?", "Europe", ["France"]),
    ]
    with path.open("w") as f:
        for q, a, rub in rows:
            f.write(json.dumps({"source": "longqa", "input_messages": [{"role": "user", "content": f"Documents: ...\n{q}"}],
                                "label": a, "metadata": {"extra_reward_info": {"question": q, "rubrics": rub,
                                                                               "dataset_name": "longqa"}}}) + "\n")
    return path


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    from longtracerl.train.models import bundled_tokenizer

    return bundled_tokenizer()


def test_dataset_columns(tmp_path: Path) -> None:
    ds = load_dataset(_jsonl(tmp_path / "d.jsonl"))
    assert set(ds.column_names) == {"prompt", "label", "rubrics", "question", "aliases"}
    assert ds[0]["prompt"][0]["role"] == "user" and ds[0]["rubrics"] == ["France", "Seine"] and ds[1]["label"] == "Europe"
    assert ds[0]["aliases"] == ""  # no rubric_aliases in these rows


def test_rubric_aliases_reach_the_trl_reward(tmp_path: Path) -> None:
    from longtracerl.reward.adapters.trl import LongTraceTRLReward

    p = tmp_path / "a.jsonl"
    info = {"question": "q", "rubrics": ["Mercury", "Seine"], "rubric_aliases": {"Mercury": ["Planet Mercury"]}}
    p.write_text(json.dumps({"input_messages": [{"role": "user", "content": "q"}], "label": "Paris",
                             "metadata": {"extra_reward_info": info}}) + "\n")
    ds = load_dataset(p)
    assert json.loads(ds[0]["aliases"]) == {"Mercury": ["Planet Mercury"]}
    reward = LongTraceTRLReward({"strategy": "all", "normalize": False}, num_generations=1)
    got = reward(prompts=["q"], completions=["</think>Paris, near Planet Mercury"], label=["Paris"],
                 rubrics=[ds[0]["rubrics"]], question=["q"], aliases=[ds[0]["aliases"]])
    assert got == pytest.approx([0.7 + 0.3 * 0.5])  # Mercury earned through its alias, Seine not


def test_bad_rows_name_file_line_and_field(tmp_path: Path) -> None:
    p = _jsonl(tmp_path / "d.jsonl")
    with p.open("a") as f:
        f.write(json.dumps({"input_messages": [{"role": "user", "content": "x"}], "label": "a",
                            "metadata": {"extra_reward_info": {"rubrics": "not a list"}}}) + "\n")
    with pytest.raises(ValueError, match=r"d\.jsonl:3: field 'metadata\.extra_reward_info\.rubrics'"):
        read_slime_jsonl(p)
    p.write_text('{"input_messages": [{"role": "user", "content": "x"}]}\n')
    with pytest.raises(ValueError, match=r":1: missing field 'label'"):
        read_slime_jsonl(p)


def test_one_real_step_with_a_tiny_model(tmp_path: Path, tokenizer: Any) -> None:
    import torch

    from longtracerl.train.models import tiny_random_llama

    model = tiny_random_llama(tokenizer)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = PaperGRPOConfig(max_steps=1, num_generations=4, prompts_per_step=2, max_completion_length=8,
                          learning_rate=1e-2)
    bias = [[tokenizer.encode(w, add_special_tokens=False), 12.0] for w in (" Paris", " France", " Europe")]
    bias.append([[tokenizer.eos_token_id], 11.0])
    trainer = train_grpo(_jsonl(tmp_path / "d.jsonl"), model, tmp_path / "out", cfg, tokenizer=tokenizer,
                         use_cpu=True, save=True, trainer_overrides={"generation_kwargs": {"sequence_bias": bias}})
    assert trainer.state.global_step == 1
    log = next(h for h in trainer.state.log_history if "rewards/longtrace/mean" in h)
    assert 0.0 < log["rewards/longtrace/mean"] <= 1.0 and log["reward_std"] > 0  # informative rewards
    changed = any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert changed, "one GRPO step with non-zero advantages must change the weights"
    assert (tmp_path / "out" / "config.json").is_file()


def test_cli_train_grpo_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from longtracerl.cli import app

    if "train" not in {g.name for g in app.registered_groups}:
        from longtracerl.train.commands import register

        register(app)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    res = CliRunner().invoke(app, ["train", "grpo", "--data", str(bad), "--max-steps", "1", "--no-save"])
    assert res.exit_code == 2 and "bad.jsonl:1" in res.output


@pytest.mark.slow
def test_one_step_with_bundled_smollm2(tmp_path: Path) -> None:
    cfg = PaperGRPOConfig(max_steps=1, num_generations=2, prompts_per_step=2, max_completion_length=16)
    trainer = train_grpo(_jsonl(tmp_path / "d.jsonl"), "bundled", tmp_path / "out", cfg, use_cpu=True, save=False)
    assert trainer.state.global_step == 1
    assert any("rewards/longtrace/mean" in h for h in trainer.state.log_history)


def test_cli_train_grpo_one_step_from_a_model_dir(tmp_path: Path, tokenizer: Any) -> None:
    from typer.testing import CliRunner

    from longtracerl.cli import app
    from longtracerl.train.models import tiny_random_llama

    if "train" not in {g.name for g in app.registered_groups}:
        from longtracerl.train.commands import register

        register(app)
    model_dir = tmp_path / "tiny"
    tiny_random_llama(tokenizer).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, [
        "train", "grpo", "--data", str(_jsonl(tmp_path / "d.jsonl")), "--model", str(model_dir), "--output-dir", str(out),
        "--max-steps", "1", "--num-generations", "2", "--prompts-per-step", "2", "--max-completion-length", "8",
    ])
    assert res.exit_code == 0, res.output
    assert "done: 1 steps" in res.output and "not in TRL" in res.output
    assert (out / "model.safetensors").is_file()
