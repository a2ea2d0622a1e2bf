"""Trainer callbacks of ``train grpo``: a metrics JSONL + ``curves.png``, and held-out evaluation at checkpoints.

Metric rows (one JSON object per line, ``step`` first): ``kind="train"`` rows carry the step's mean
``reward``, ``outcome`` (accuracy of the sampled responses), ``rubric`` (raw rubric), ``response_length``
(tokens), ``truncated_share`` (responses that hit the length budget), ``entropy`` (TRL's token entropy; free,
it comes with the log-probs), ``loss``, ``reward_std`` and ``seconds`` (wall time of the step);
``kind="eval"`` rows carry held-out ``accuracy`` and ``rubric`` (greedy, outcome scorer + raw rubric).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

#: TRL log key -> our metric name.
TRAIN_KEYS = {
    "reward": "reward",
    "reward_std": "reward_std",
    "longtrace/outcome_mean": "outcome",
    "longtrace/rubric_mean": "rubric",
    "completions/mean_length": "response_length",
    "completions/clipped_ratio": "truncated_share",
    "entropy": "entropy",
    "loss": "loss",
    "learning_rate": "learning_rate",
}


def append_row(path: Path, row: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()


class MetricsCallback(TrainerCallback):  # type: ignore[misc]
    """Appends one row per logged step to ``metrics.jsonl`` and redraws ``curves.png`` at every save."""

    def __init__(self, metrics_path: Path, curves_path: Path) -> None:
        self.metrics_path, self.curves_path = metrics_path, curves_path
        self._t = time.perf_counter()
        self._seconds = 0.0

    def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self._t = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self._seconds = time.perf_counter() - self._t  # before evaluation and saving run

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
        if not logs or "reward" not in logs or not state.is_world_process_zero:
            return
        row: dict[str, Any] = {"step": int(state.global_step), "kind": "train"}
        for k, name in TRAIN_KEYS.items():
            if k in logs:
                row[name] = float(logs[k])
        row["seconds"] = round(self._seconds, 3)
        append_row(self.metrics_path, row)

    def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.is_world_process_zero:
            plot_curves(self.metrics_path, self.curves_path)

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.is_world_process_zero:
            plot_curves(self.metrics_path, self.curves_path)


def evaluate_rows(
    model: Any,
    tokenizer: Any,
    rows: Sequence[dict[str, Any]],
    reward_config: Any = None,
    *,
    max_new_tokens: int = 64,
    batch_size: int = 4,
) -> dict[str, float]:
    """Greedy answers to ``rows`` scored with the project's outcome scorer and raw rubric (held-out accuracy)."""
    import torch

    from longtracerl.reward.adapters._common import get_reward

    reward = get_reward(reward_config)
    was_training = model.training
    rng = torch.get_rng_state()  # evaluation must not move the training run's random stream
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    outcomes: list[float] = []
    rubrics: list[float] = []
    lengths: list[int] = []
    judge_errors = 0
    try:
        for i in range(0, len(rows), batch_size):
            chunk = rows[i : i + batch_size]
            texts = [tokenizer.apply_chat_template(r["prompt"], tokenize=False, add_generation_prompt=True) for r in chunk]
            enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
            with torch.no_grad():
                out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, use_cache=True,
                                     pad_token_id=tokenizer.pad_token_id)  # the Trainer sets config.use_cache=False
            for r, ids in zip(chunk, out[:, enc["input_ids"].shape[1] :], strict=True):
                text = tokenizer.decode(ids, skip_special_tokens=True)
                res = reward.score_one(text, r["label"], r["rubrics"], question=r.get("question", ""))
                if res.outcome is None:  # the judge failed: an error, not a wrong answer; left out of the mean
                    judge_errors += 1
                    continue
                outcomes.append(float(res.outcome))
                rubrics.append(float(res.rubric_raw))
                lengths.append(int((ids != tokenizer.pad_token_id).sum()))
    finally:
        tokenizer.padding_side = side
        torch.set_rng_state(rng)
        if was_training:
            model.train()
    n = max(len(outcomes), 1)
    return {"accuracy": sum(outcomes) / n, "rubric": sum(rubrics) / n, "response_length": sum(lengths) / n,
            "n": float(len(outcomes)), "judge_errors": float(judge_errors)}


class ScheduledEvalCallback(TrainerCallback):  # type: ignore[misc]
    """Runs ``evaluate(model, step)`` before training, every ``every`` steps and at the end, once per step and
    on the main process only; subclasses say what an evaluation is."""

    def __init__(self, every: int) -> None:
        self.every = every
        self._done: set[int] = set()

    def evaluate(self, model: Any, step: int) -> None:
        raise NotImplementedError

    def _run(self, model: Any, state: Any) -> None:
        step = int(state.global_step)
        if step in self._done or not state.is_world_process_zero:
            return
        self._done.add(step)
        self.evaluate(model, step)

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        if state.global_step == 0 and model is not None:
            self._run(model, state)

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        if model is not None and self.every > 0 and state.global_step % self.every == 0:
            self._run(model, state)

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        if model is not None:
            self._run(model, state)


class EvalCallback(ScheduledEvalCallback):
    """Held-out evaluation before training, every ``every`` steps, and at the end; rows go to the metrics file."""

    def __init__(self, rows: Sequence[dict[str, Any]], tokenizer: Any, metrics_path: Path, every: int,
                 reward_config: Any = None, max_new_tokens: int = 64) -> None:
        super().__init__(every)
        self.rows, self.tokenizer, self.metrics_path = list(rows), tokenizer, metrics_path
        self.reward_config, self.max_new_tokens = reward_config, max_new_tokens

    def evaluate(self, model: Any, step: int) -> None:
        t = time.perf_counter()
        res = evaluate_rows(model, self.tokenizer, self.rows, self.reward_config, max_new_tokens=self.max_new_tokens)
        append_row(self.metrics_path, {"step": step, "kind": "eval", **res,
                                       "seconds": round(time.perf_counter() - t, 3)})


def plot_curves(metrics_path: Path, out: Path) -> Path | None:
    """``curves.png``: reward / outcome / rubric, response length and truncation, held-out accuracy, per step."""
    from longtracerl.train.run_dir import read_metrics

    rows = read_metrics(metrics_path)
    train = [r for r in rows if r.get("kind") == "train"]
    ev = [r for r in rows if r.get("kind") == "eval"]
    if not train and not ev:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    steps = [r["step"] for r in train]
    for key in ("reward", "outcome", "rubric"):
        pts = [(s, r[key]) for s, r in zip(steps, train, strict=True) if key in r]
        if pts:
            axes[0].plot([p[0] for p in pts], [p[1] for p in pts], marker=".", label=key)
    axes[0].set_title("training reward (sampled responses)")
    axes[0].set_xlabel("step")
    axes[0].legend()
    pts = [(s, r["response_length"]) for s, r in zip(steps, train, strict=True) if "response_length" in r]
    if pts:
        axes[1].plot([p[0] for p in pts], [p[1] for p in pts], marker=".", label="mean length (tokens)")
    ax2 = axes[1].twinx()
    pts = [(s, r["truncated_share"]) for s, r in zip(steps, train, strict=True) if "truncated_share" in r]
    if pts:
        ax2.plot([p[0] for p in pts], [p[1] for p in pts], color="tab:red", marker=".", label="truncated share")
        ax2.set_ylim(0, 1)
    axes[1].set_title("responses")
    axes[1].set_xlabel("step")
    if ev:
        for bench in dict.fromkeys(r.get("bench", "") for r in ev):  # --eval-bench: one line per benchmark
            mine = [r for r in ev if r.get("bench", "") == bench]
            tag = f"{bench} " if bench else ""
            for key in ("accuracy", "rubric"):
                pts = [(r["step"], r[key]) for r in mine if r.get(key) is not None]
                if pts:
                    axes[2].plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"{tag}{key}")
        axes[2].legend()
    axes[2].set_title("held-out (greedy)")
    axes[2].set_xlabel("step")
    fig.tight_layout()
    tmp = out.with_name(out.stem + ".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(out)
    return out
