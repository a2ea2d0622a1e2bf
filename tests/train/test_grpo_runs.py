"""``train grpo`` as a long-running tool: checkpoints, resume after kill -9 on the same curve, metrics, curves,
held-out evaluation, and bad input refused before any model is loaded (real TRL steps on CPU, tiny model)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")

from longtracerl.train import trl_grpo  # noqa: E402
from longtracerl.train.grpo_config import PaperGRPOConfig  # noqa: E402
from longtracerl.train.run_dir import read_metrics  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ROWS = [
    ("Which capital lies on the Seine?", "Paris", ["France", "Seine"]),
    ("Which continent holds France?", "Europe", ["France"]),
]


def _jsonl(path: Path, rows: list[tuple[str, str, list[str]]] = ROWS, pad: int = 0) -> Path:
    with path.open("w") as f:
        for q, a, rub in rows:
            f.write(json.dumps({"input_messages": [{"role": "user", "content": "Documents: " + "word " * pad + q}],
                                "label": a, "metadata": {"extra_reward_info": {"question": q, "rubrics": rub}}}) + "\n")
    return path


# The same run, in this process or in a child: biased sampling so rewards vary and the weights move.
RUN = r'''
import json, sys
from pathlib import Path
from longtracerl.train.grpo_config import PaperGRPOConfig
from longtracerl.train.models import load_tokenizer
from longtracerl.train.trl_grpo import train_grpo

def run(data, model_dir, out, eval_data=None):
    tok = load_tokenizer(model_dir)
    bias = [[tok.encode(w, add_special_tokens=False), 12.0] for w in (" Paris", " France", " Europe")]
    bias.append([[tok.eos_token_id], 11.0])
    cfg = PaperGRPOConfig(max_steps=3, num_generations=4, prompts_per_step=2, max_completion_length=6,
                          learning_rate=5e-3)
    return train_grpo(data, model_dir, out, cfg, use_cpu=True, save=False, save_every=1, eval_data=eval_data,
                      eval_every=2, eval_max_new_tokens=4,
                      trainer_overrides={"generation_kwargs": {"sequence_bias": bias}})

if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2], sys.argv[3])
'''


def _curve(out: Path) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in read_metrics(out / "metrics.jsonl")]


@pytest.mark.slow
def test_resume_after_kill_9_continues_the_same_curve(tmp_path: Path, tiny_dir: Path) -> None:
    data = _jsonl(tmp_path / "d.jsonl")
    script = tmp_path / "run_probe.py"
    script.write_text(RUN)
    sys.path.insert(0, str(tmp_path))
    try:
        import run_probe  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path))

    ref = tmp_path / "ref"
    run_probe.run(str(data), str(tiny_dir), str(ref), eval_data=str(data))
    reference = _curve(ref)
    train = [r for r in reference if r["kind"] == "train"]
    assert [r["step"] for r in train] == [1, 2, 3]
    assert len({round(r["reward"], 6) for r in train}) > 1 or train[0]["reward_std"] > 0  # an informative curve
    assert {"reward", "outcome", "rubric", "response_length", "truncated_share", "entropy"} <= set(train[0])
    assert [r["step"] for r in reference if r["kind"] == "eval"] == [0, 2, 3]
    assert (ref / "curves.png").stat().st_size > 1000

    # the same run in a child, killed with SIGKILL once checkpoint-1 is complete, then started again
    out = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    child = subprocess.Popen([sys.executable, str(script), str(data), str(tiny_dir), str(out)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = out / "checkpoint-1" / "trainer_state.json"
    deadline = time.time() + 400
    while not marker.exists() and child.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert marker.exists(), "the child never wrote its first checkpoint"
    assert not (out / "checkpoint-3" / "trainer_state.json").exists(), "killed too late to test anything"
    run_probe.run(str(data), str(tiny_dir), str(out), eval_data=None)  # automatic resume from out/
    resumed = [r for r in _curve(out) if r["kind"] == "train"]
    assert [r["step"] for r in resumed] == [1, 2, 3], resumed  # no step lost, none logged twice
    for a, b in zip(resumed, train, strict=True):
        for k in ("reward", "outcome", "rubric", "response_length", "loss"):
            assert a[k] == pytest.approx(b[k], abs=1e-5), (a["step"], k, a[k], b[k])


def test_resume_refuses_a_directory_of_another_run(tmp_path: Path) -> None:
    from longtracerl.train import run_dir

    out = tmp_path / "out"
    settings = {"model": "a", "recipe": {"lr": 1}, "max_steps": 3}
    assert run_dir.prepare(out, settings, "auto") is None
    ck = out / "checkpoint-2"
    ck.mkdir()
    (ck / "trainer_state.json").write_text(json.dumps({"global_step": 2}))
    (out / "checkpoint-4").mkdir()  # cut by a kill: no trainer_state.json, never resumed from
    assert run_dir.prepare(out, {**settings, "max_steps": 10}, "auto") == ck  # longer run: same curve
    with pytest.raises(ValueError, match=r"run\.json: .*different settings \(recipe"):
        run_dir.prepare(out, {**settings, "recipe": {"lr": 2}}, "auto")
    with pytest.raises(ValueError, match="already has checkpoints"):
        run_dir.prepare(out, settings, "never")
    (out / "metrics.jsonl").write_text("".join(json.dumps({"step": s}) + "\n" for s in (1, 2, 3)) + '{"step": 4, "cut')
    assert run_dir.truncate_metrics(out / "metrics.jsonl", 2) == 2


class _NoModel(Exception):
    pass


@pytest.fixture
def no_model_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a model is an error in these tests: the input must be refused before."""
    def boom(*a: Any, **k: Any) -> Any:
        raise _NoModel("a model was loaded")

    monkeypatch.setattr(trl_grpo, "load_model_and_tokenizer", boom)


def test_bad_input_is_refused_before_a_model_is_loaded(tmp_path: Path, tiny_dir: Path, no_model_load: None) -> None:
    cfg = PaperGRPOConfig(max_steps=1, num_generations=2, prompts_per_step=2, max_completion_length=8)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"input_messages": [{"role": "user", "content": "q"}], "label": "a",
                               "metadata": {"extra_reward_info": {"question": "q"}}}) + "\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:1: missing field 'metadata\.extra_reward_info\.rubrics'"):
        trl_grpo.train_grpo(bad, str(tiny_dir), tmp_path / "o1", cfg)
    bad.write_text(json.dumps({"input_messages": [{"role": "user", "content": "q"}], "label": " ",
                               "metadata": {"extra_reward_info": {"rubrics": []}}}) + "\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:1: field 'label' is empty"):
        trl_grpo.train_grpo(bad, str(tiny_dir), tmp_path / "o1", cfg)
    good = _jsonl(tmp_path / "d.jsonl")
    with pytest.raises(ValueError, match=r"--model .*nope: no such file or directory"):
        trl_grpo.train_grpo(good, str(tmp_path / "nope"), tmp_path / "o2", cfg)
    long = _jsonl(tmp_path / "long.jsonl", pad=5000)  # tiny model: 4096-token window
    with pytest.raises(ValueError, match=r"long\.jsonl: row \d+ has a \d+-token prompt.*context window 4096.*build --max-tokens"):
        trl_grpo.train_grpo(long, str(tiny_dir), tmp_path / "o3", cfg)
    with pytest.raises(ValueError, match=r"exceed max_prompt_length 100"):
        trl_grpo.train_grpo(long, str(tiny_dir), tmp_path / "o3", cfg.model_copy(update={"max_prompt_length": 100}))
    assert not (tmp_path / "o3" / "metrics.jsonl").exists()


def test_cli_length_error_is_one_line_before_loading(tmp_path: Path, tiny_dir: Path, no_model_load: None) -> None:
    from typer.testing import CliRunner

    from longtracerl.cli import app

    if "train" not in {g.name for g in app.registered_groups}:
        from longtracerl.train.commands import register

        register(app)
    long = _jsonl(tmp_path / "long.jsonl", pad=5000)
    res = CliRunner().invoke(app, ["train", "grpo", "--data", str(long), "--model", str(tiny_dir), "--max-steps", "1",
                                   "--num-generations", "2", "--prompts-per-step", "2", "--output-dir", str(tmp_path / "o")])
    assert res.exit_code == 2, res.output
    assert "context window 4096" in res.output and "longtracerl build --max-tokens" in res.output
    res = CliRunner().invoke(app, ["train", "grpo", "--data", str(long), "--model", str(tiny_dir), "--report-to", "mlflow",
                                   "--output-dir", str(tmp_path / "o")])
    assert res.exit_code == 2 and "--report-to mlflow" in res.output


def test_bundled_model_window_is_read_without_loading_weights() -> None:
    from longtracerl.train.checks import context_window

    assert context_window("bundled") == 8192  # SmolLM2-135M-Instruct
