"""Every sample a build writes fits the trainers by construction (issue 19): a build on the sample world with a
small L and the policy's tokenizer (one with a chat template), then the two length checks a user meets:
``train grpo``'s (train/checks.py, what ``--preset paper`` runs before loading a model) and verl's own
``RLHFDataset`` filter with the ``data.max_prompt_length`` that ``train verl-args`` prints.

The paper preset changes neither the assembly nor its counting (it sets L = 131072 and requires the tokenizer),
so this LLM-free build exercises the same code as a paper-preset one, in a fraction of the time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

L = 40000  # the sample world's pages are 5K-18K tokens: a few gold pages and distractors fit


@pytest.fixture(scope="module")
def small_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from longtracerl.llm.tokenizers import load_tokenizer

    root = tmp_path_factory.mktemp("fits")
    tok_dir = root / "policy-tokenizer"
    load_tokenizer().save_pretrained(str(tok_dir))  # stands in for the policy's: SmolLM2's chat template
    env = {**os.environ, "LONGTRACERL_HOME": str(tmp_path_factory.getbasetemp() / "home")}
    cmd = [sys.executable, "-m", "longtracerl.cli", "build", "--out", str(root), "--name", "small", "--n-chains", "6",
           "--set", "walk.hops=2", "--max-tokens", str(L), "--tokenizer", str(tok_dir), "--quiet"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return root / "small", tok_dir


def _samples(run: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines() if x.strip()]


@pytest.mark.slow
def test_samples_record_the_trainers_prompt_length_within_L(small_build: tuple[Path, Path]) -> None:
    from longtracerl.llm.tokenizers import load_tokenizer

    run, tok_dir = small_build
    tok = load_tokenizer(str(tok_dir))
    samples = _samples(run)
    assert len(samples) >= 4
    for s in samples:
        ids = tok.apply_chat_template(s["messages"], tokenize=True, add_generation_prompt=True)
        n = len(ids["input_ids"] if hasattr(ids, "keys") else ids)
        assert s["prompt_tokens"] == n <= L  # exact: the trainer's own count, not an estimate
        assert s["prompt_tokens"] - s["n_tokens"] == s["details"]["template_tokens"] > 0
    assert max(s["prompt_tokens"] for s in samples) > L - 1000  # the context was filled towards L


@pytest.mark.slow
def test_train_grpo_paper_length_check_passes_every_sample(small_build: tuple[Path, Path]) -> None:
    from longtracerl.presets import preset_values
    from longtracerl.train import checks
    from longtracerl.train.grpo_config import PaperGRPOConfig
    from longtracerl.train.models import load_tokenizer
    from longtracerl.train.trl_grpo import read_slime_jsonl

    run, tok_dir = small_build
    data = run / "export" / "slime.jsonl"
    cfg = PaperGRPOConfig.model_validate({**preset_values("grpo", "paper"), "max_prompt_length": L})
    rows = read_slime_jsonl(data)
    counts = checks.prompt_token_counts(rows, load_tokenizer(str(tok_dir)))  # what train grpo runs
    assert counts == [s["prompt_tokens"] for s in _samples(run)]
    checks.check_lengths(counts, data=data, window=None, max_prompt_length=cfg.max_prompt_length,
                         max_completion_length=cfg.max_completion_length, model="policy")
    with pytest.raises(ValueError, match="exceed max_prompt_length"):  # the check is live: one token less fails
        checks.check_lengths(counts, data=data, window=None, max_prompt_length=max(counts) - 1,
                             max_completion_length=cfg.max_completion_length, model="policy")


@pytest.mark.slow
def test_verl_keeps_every_sample_at_the_printed_max_prompt_length(small_build: tuple[Path, Path],
                                                                  tmp_path: Path) -> None:
    from omegaconf import OmegaConf
    from typer.testing import CliRunner
    from verl.utils.dataset.rl_dataset import RLHFDataset

    from longtracerl.cli import app
    from longtracerl.train.models import load_tokenizer

    run, tok_dir = small_build
    r = CliRunner().invoke(app, ["train", "verl-args", "--max-prompt-length", str(L)])
    assert r.exit_code == 0, r.output
    printed = int(next(x for x in r.output.split() if x.startswith("data.max_prompt_length=")).split("=")[1])
    assert printed == L
    tok = load_tokenizer(str(tok_dir))
    n = len(_samples(run))

    def kept(max_prompt_length: int) -> int:
        cfg = OmegaConf.create({"max_prompt_length": max_prompt_length, "filter_overlong_prompts": True,
                                "filter_overlong_prompts_workers": 1, "cache_dir": str(tmp_path / "verl-cache")})
        return len(RLHFDataset(str(run / "export" / "verl" / "train.parquet"), tok, cfg).dataframe)

    assert kept(printed) == n  # verl drops none
    longest = max(s["prompt_tokens"] for s in _samples(run))
    # verl's filter is live and counts exactly what we count: one token less drops the longest prompt(s)
    assert kept(longest - 1) == sum(s["prompt_tokens"] < longest for s in _samples(run)) < n
