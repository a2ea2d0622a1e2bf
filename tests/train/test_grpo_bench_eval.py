"""``train grpo --eval-bench``: held-out evaluation through the eval module at checkpoints (real TRL steps on
CPU with a tiny random model), run directories that ``eval compare`` reads, and bad names refused up front."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")

from longtracerl.train import trl_grpo  # noqa: E402
from longtracerl.train.bench_eval import parse_eval_benches  # noqa: E402
from longtracerl.train.grpo_config import PaperGRPOConfig  # noqa: E402
from longtracerl.train.run_dir import read_metrics  # noqa: E402

TRAIN = [("Which capital lies on the Seine?", "Paris", ["France", "Seine"]),
         ("Which continent holds France?", "Europe", ["France"])]
HELD = [("Which river crosses Paris?", "Seine", ["Paris"]),
        ("Which country has Lyon?", "France", ["Lyon", "Rhone"]),
        ("Which sea borders Nice?", "Mediterranean", ["Nice"])]


def _jsonl(path: Path, rows: list[tuple[str, str, list[str]]]) -> Path:
    with path.open("w") as f:
        for q, a, rub in rows:
            f.write(json.dumps({"input_messages": [{"role": "user", "content": "Documents: ... " + q}],
                                "label": a, "metadata": {"extra_reward_info": {"question": q, "rubrics": rub}}}) + "\n")
    return path


def _run(tmp: Path, model_dir: Path, out: Path, eval_bench: str | None) -> Any:
    from longtracerl.train.models import load_tokenizer

    tok = load_tokenizer(str(model_dir))
    bias = [[tok.encode(w, add_special_tokens=False), 12.0] for w in (" Paris", " France", " Europe")]
    bias.append([[tok.eos_token_id], 11.0])
    cfg = PaperGRPOConfig(max_steps=2, num_generations=4, prompts_per_step=2, max_completion_length=6,
                          learning_rate=5e-2)
    return trl_grpo.train_grpo(_jsonl(tmp / "train.jsonl", TRAIN), str(model_dir), out, cfg, use_cpu=True, save=False,
                               eval_data=_jsonl(tmp / "held.jsonl", HELD), eval_every=2, eval_max_new_tokens=5,
                               eval_bench=eval_bench,
                               trainer_overrides={"generation_kwargs": {"sequence_bias": bias}})


def _greedy(model: Any, tok: Any, question: str, n: int) -> str:
    import torch

    text = tok.apply_chat_template([{"role": "user", "content": "Documents: ... " + question}], tokenize=False,
                                   add_generation_prompt=True)
    enc = tok(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=n, do_sample=False, pad_token_id=tok.pad_token_id)
    return str(tok.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True))


def test_eval_bench_writes_eval_runs_of_base_and_trained_weights(tmp_path: Path, tiny_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    from longtracerl.eval.compare import compare
    from longtracerl.io.jsonl import iter_jsonl
    from longtracerl.train.bench_eval import compare_commands
    from longtracerl.train.models import load_tokenizer

    out = tmp_path / "run"
    trainer = _run(tmp_path, tiny_dir, out, "in-distribution")
    base_dir, trained_dir = out / "eval" / "indist-step-0", out / "eval" / "indist-step-2"
    tok = load_tokenizer(str(tiny_dir))
    base = AutoModelForCausalLM.from_pretrained(str(tiny_dir))
    for d, model in ((base_dir, base), (trained_dir, trainer.model)):
        rows = [r for _, r in iter_jsonl(d / "results.jsonl")]
        assert [r["question"] for r in rows] == [q for q, _, _ in HELD]
        for r in rows:  # the contract fields of an eval run directory
            assert {"item_id", "bench", "sample_index", "split", "prompt_sha256", "prompt_tokens", "prompt_head",
                    "response", "reasoning_chars", "extracted", "score", "judge_reply", "error", "usage"} <= set(r)
            assert r["bench"] == "indist" and r["error"] is None and r["score"] in (0.0, 1.0)
        # the answers are greedy answers of exactly these weights: base before training, the policy after
        model.eval()
        assert [r["response"] for r in rows] == [_greedy(model, tok, q, 5) for q, _, _ in HELD]
        summary = json.loads((d / "summary.json").read_text())
        assert summary["label"] == d.name.replace("indist-", "") and summary["rows"] == len(HELD)

    ev = [r for r in read_metrics(out / "metrics.jsonl") if r["kind"] == "eval"]
    assert [(r["step"], r["bench"]) for r in ev] == [(0, "indist"), (2, "indist")]
    for r, d in zip(ev, (base_dir, trained_dir), strict=True):
        scores = [x["score"] for _, x in iter_jsonl(d / "results.jsonl")]
        assert r["accuracy"] == pytest.approx(sum(scores) / len(scores)) and r["n"] == len(HELD)
        assert "rubric" in r and Path(r["run_dir"]) == d

    res = compare([base_dir, trained_dir], tmp_path / "cmp")  # base vs trained, as `eval compare` shows it
    head = res["table"].splitlines()[0]
    assert "step-0" in head and "step-2" in head and "delta step-2 vs step-0" in head
    assert compare_commands(out) == [f"longtracerl eval compare {base_dir} {trained_dir}"]

    # evaluating does not move the training random stream: the same run without it has the same curve
    plain = tmp_path / "plain"
    _run(tmp_path, tiny_dir, plain, None)
    def curve(d: Path) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in read_metrics(d / "metrics.jsonl")
                if r["kind"] == "train"]
    assert curve(out) == curve(plain)


def test_evaluate_checkpoint_answers_with_the_weights_it_is_given(tmp_path: Path, tiny_dir: Path) -> None:
    """Two differently initialized models: each eval run holds that model's own greedy answers."""
    from longtracerl.io.jsonl import iter_jsonl
    from longtracerl.train.bench_eval import BenchSpec, evaluate_checkpoint
    from longtracerl.train.models import load_tokenizer, tiny_random_llama

    tok = load_tokenizer(str(tiny_dir))
    held = _jsonl(tmp_path / "held.jsonl", HELD)
    answers = []
    for seed in (1, 2):
        model = tiny_random_llama(tok, seed=seed)
        if seed == 2:  # a random tiny model answers newlines whatever its seed: push this one to other words,
            # and to stop after " France" (a reply cut at max tokens scores 0, as in training)
            france = tok.encode(" France", add_special_tokens=False)
            bias = [[tok.encode(w, add_special_tokens=False), 30.0] for w in (" Seine", " France")]
            model.generation_config.sequence_bias = [*bias, [[*france, tok.eos_token_id], 80.0]]
            model.generation_config.eos_token_id = tok.eos_token_id
        rows = evaluate_checkpoint(model, tok, [BenchSpec("indist", str(held))], tmp_path / f"m{seed}", 7,
                                   model_name=f"tiny{seed}", tokenizer_name=str(tiny_dir), max_new_tokens=6,
                                   max_context=4096)
        assert rows[0]["step"] == 7 and rows[0]["run_dir"] == str(tmp_path / f"m{seed}" / "eval" / "indist-step-7")
        results = [r for _, r in iter_jsonl(Path(rows[0]["run_dir"]) / "results.jsonl")]
        got = [r["response"] for r in results]
        assert got == [_greedy(model, tok, q, 6) for q, _, _ in HELD]
        answers.append(got)
        if seed == 2:  # "France", then the end, to all three: right only for "Which country has Lyon?" (gold France)
            assert all(a.split() == ["France"] for a in got), got
            assert [r["score"] for r in results] == [0.0, 1.0, 0.0]
            assert [r["truncated"] for r in results] == [False] * 3
        else:  # blank answers: nothing extracted, nothing scored
            assert [(r["extracted"], r["score"]) for r in results] == [(None, 0.0)] * 3
    assert answers[0] != answers[1], "two random models should answer differently (else this test shows nothing)"


def test_eval_bench_names_are_checked() -> None:
    specs = parse_eval_benches("in-distribution, longbench-v2=lb.jsonl", "held.jsonl")
    assert [(s.bench, s.data) for s in specs] == [("indist", "held.jsonl"), ("longbench-v2", "lb.jsonl")]
    assert parse_eval_benches("indist=x.jsonl")[0].data == "x.jsonl"
    with pytest.raises(ValueError, match=r"^--eval-bench in-distrbution: unknown benchmark; known: in-distribution, "):
        parse_eval_benches("in-distrbution", "held.jsonl")
    with pytest.raises(ValueError, match="--eval-bench aa-lcr: scored by an LLM judge"):
        parse_eval_benches("aa-lcr")
    with pytest.raises(ValueError, match="--eval-bench in-distribution: give --eval-data"):
        parse_eval_benches("in-distribution")
    with pytest.raises(ValueError, match="given twice"):
        parse_eval_benches("indist,in-distribution", "h.jsonl")


class _NoModel(Exception):
    pass


def test_unknown_bench_is_one_line_before_any_model_loads(tmp_path: Path, tiny_dir: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from longtracerl.cli import app

    def boom(*a: Any, **k: Any) -> Any:
        raise _NoModel("a model was loaded")

    monkeypatch.setattr(trl_grpo, "load_model_and_tokenizer", boom)
    data = _jsonl(tmp_path / "train.jsonl", TRAIN)
    res = CliRunner().invoke(app, ["train", "grpo", "--data", str(data), "--model", str(tiny_dir), "--eval-data",
                                   str(data), "--eval-bench", "in-distribution,mmlu", "--output-dir", str(tmp_path / "o")])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: --eval-bench mmlu: unknown benchmark"), res.output
    assert not (tmp_path / "o").exists()
    # a held-out file with a bad row is named (file, row, field) before loading too
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"input_messages": [{"role": "user", "content": "q"}], "label": "",
                               "metadata": {"extra_reward_info": {"rubrics": []}}}) + "\n")
    cfg = PaperGRPOConfig(max_steps=1, num_generations=2, prompts_per_step=2, max_completion_length=4)
    with pytest.raises(ValueError, match=r"bad\.jsonl:1: field 'label' is empty"):
        trl_grpo.train_grpo(data, str(tiny_dir), tmp_path / "o2", cfg, eval_data=bad, eval_bench="in-distribution")


def test_eval_run_refuses_the_in_memory_backend_without_a_model(tmp_path: Path) -> None:
    """``llm: transformers`` exists for training-time evaluation only; `eval run` says so instead of failing later."""
    from longtracerl.eval.runner import EvalConfig, make_models

    cfg = EvalConfig(bench="indist", out=str(tmp_path / "e"), llm="transformers")
    with pytest.raises(ValueError, match="held in memory"):
        make_models(cfg)


def test_readme_train_command_is_accepted_by_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's build -> train path: its `train grpo` line parses (every flag exists, eval bench known) and its
    `eval compare` line names the directories that run writes. Training itself is replaced by a recorder here
    (the real run is the first test of this file, on a tiny model)."""
    import shlex

    from typer.testing import CliRunner

    from longtracerl.cli import app

    root = Path(__file__).resolve().parents[2]
    block = (root / "README.md").read_text().split("### Train with GRPO", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    cmds = [shlex.split(c, comments=True) for c in block.replace("\\\n", " ").splitlines() if c.strip()]
    train = next(c for c in cmds if c[:3] == ["longtracerl", "train", "grpo"])
    compare = next(c for c in cmds if c[:3] == ["longtracerl", "eval", "compare"])
    args = train[1:]
    for flag in ("--data", "--eval-data"):  # the build's files, here two small ones in the same format
        i = args.index(flag)
        args[i + 1] = str(_jsonl(tmp_path / Path(args[i + 1]).name, TRAIN))
    seen: dict[str, Any] = {}

    class _State:
        global_step, log_history = 0, []

    class _Trainer:
        state = _State()

    def record(data: Any, model: Any, output_dir: Any, cfg: Any, **kw: Any) -> Any:
        seen.update(model=model, output_dir=output_dir, cfg=cfg, **kw)
        return _Trainer()

    monkeypatch.setattr(trl_grpo, "train_grpo", record)
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert seen["eval_bench"] == "in-distribution" and seen["model"] == "bundled"
    out = Path(seen["output_dir"])
    steps = seen["cfg"].max_steps
    assert compare[3:] == [str(out / "eval" / "indist-step-0"), str(out / "eval" / f"indist-step-{steps}")]
