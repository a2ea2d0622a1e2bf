"""Evaluation during training through the eval module (``train grpo --eval-bench``).

At step 0, every ``--eval-every`` steps and at the end, the policy held by the trainer answers each chosen
benchmark through ``longtracerl.eval.runner`` (same loaders, prompts, scorers and run-directory layout as
``longtracerl eval run``), so ``longtracerl eval compare OUT/eval/indist-step-0 OUT/eval/indist-step-N`` shows
base vs trained. The model is not copied or served: a small ``ChatLLM`` answers from the in-memory weights.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from longtracerl.llm.base import ChatResponse
from longtracerl.records import Usage
from longtracerl.train.callbacks import ScheduledEvalCallback, append_row

#: Names accepted by ``--eval-bench`` -> the eval module's benchmark name.
ALIASES = {"in-distribution": "indist", "indist": "indist"}
EVAL_DIR = "eval"


@dataclass(frozen=True)
class BenchSpec:
    """One benchmark to evaluate at checkpoints: the eval module's name and its data (path / hub id)."""

    bench: str
    data: str | None


def parse_eval_benches(spec: str, eval_data: str | Path | None = None) -> list[BenchSpec]:
    """``in-distribution[,longbench-v2[=PATH],...]`` -> specs; a bad name fails in one line, before any model.

    ``in-distribution`` (alias ``indist``) reads ``--eval-data`` (a held-out slime JSONL such as
    ``export/slime_test.jsonl``) unless given as ``in-distribution=PATH``. Benchmarks scored by an LLM judge
    (AA-LCR, FRAMES) are refused: evaluate a saved checkpoint with ``longtracerl eval run`` instead.
    """
    from longtracerl.eval.loaders import LOADERS
    from longtracerl.eval.runner import JUDGED

    known = ["in-distribution", *(b for b in LOADERS if b != "indist" and b not in JUDGED)]
    out: list[BenchSpec] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, _, data = part.partition("=")
        name = name.strip()
        bench = ALIASES.get(name, name)
        if bench not in LOADERS:
            raise ValueError(f"--eval-bench {name}: unknown benchmark; known: {', '.join(known)}")
        if bench in JUDGED:
            raise ValueError(f"--eval-bench {name}: scored by an LLM judge, not run during training; evaluate a "
                             "saved checkpoint with `longtracerl eval run` instead")
        src = data.strip() or None
        if bench == "indist" and src is None:
            if eval_data is None:
                raise ValueError("--eval-bench in-distribution: give --eval-data PATH (a held-out slime JSONL, e.g. "
                                 "export/slime_test.jsonl) or in-distribution=PATH")
            src = str(eval_data)
        if any(s.bench == bench for s in out):
            raise ValueError(f"--eval-bench {name}: given twice")
        out.append(BenchSpec(bench, src))
    if not out:
        raise ValueError(f"--eval-bench {spec!r}: no benchmark named")
    return out


def check_bench_data(specs: list[BenchSpec]) -> None:
    """Read local benchmark files once (bad rows fail here, naming file/row/field, before the model loads)."""
    from longtracerl.eval.loaders import load_items

    for s in specs:
        if s.data is not None and Path(s.data).expanduser().exists():
            n = sum(1 for _ in load_items(s.bench, s.data))
            if n == 0:
                raise ValueError(f"--eval-bench {s.bench}: {s.data} has no items")


def compare_commands(output_dir: str | Path) -> list[str]:
    """Per benchmark, the ``eval compare`` command of its first (base) and last (trained) eval run."""
    by_bench: dict[str, list[tuple[int, Path]]] = {}
    for p in (Path(output_dir) / EVAL_DIR).glob("*-step-*"):
        bench, _, step = p.name.rpartition("-step-")
        if step.isdigit() and (p / "results.jsonl").is_file():
            by_bench.setdefault(bench, []).append((int(step), p))
    out = []
    for _bench, runs in sorted(by_bench.items()):
        runs.sort()
        if len(runs) >= 2:
            out.append(f"longtracerl eval compare {runs[0][1]} {runs[-1][1]}")
    return out


def run_dir_for(output_dir: str | Path, bench: str, step: int) -> Path:
    return Path(output_dir) / EVAL_DIR / f"{bench}-step-{step}"


class TrainerModelChat:
    """A ``ChatLLM`` answering from a model held in memory (the policy being trained), one request at a time.

    Greedy at temperature 0, else sampled with a generator seeded by the request's seed.
    """

    backend = "transformers"

    def __init__(self, model: Any, tokenizer: Any, name: str) -> None:
        self.lm, self.tok, self.model = model, tokenizer, name

    async def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        json_schema: dict[str, Any] | None = None,
        temperature: float = 0.0,
        top_p: float = 1.0,
        max_tokens: int = 512,
        seed: int | None = None,
        stop: list[str] | None = None,
    ) -> ChatResponse:
        import torch

        t = time.perf_counter()
        text = self.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        enc = self.tok(text, return_tensors="pt", add_special_tokens=False).to(self.lm.device)
        # use_cache: the Trainer sets model.config.use_cache = False (TrainingArguments.use_cache); ask for the
        # KV cache explicitly so that no new token re-reads the whole prompt
        kw: dict[str, Any] = {"max_new_tokens": max_tokens, "pad_token_id": self.tok.pad_token_id, "use_cache": True}
        if temperature > 0:
            if seed is not None:
                torch.manual_seed(seed)  # the caller restores the training RNG state afterwards
            kw.update(do_sample=True, temperature=temperature, top_p=top_p)
        else:
            kw.update(do_sample=False)
        with torch.no_grad():
            out = self.lm.generate(**enc, **kw)
        ids = out[0, enc["input_ids"].shape[1] :]
        eos = self.tok.eos_token_id
        ended = len(ids) > 0 and int(ids[-1]) in ({eos} if isinstance(eos, int) else set(eos or []))
        n_out = int((ids != self.tok.pad_token_id).sum()) if self.tok.pad_token_id is not None else len(ids)
        return ChatResponse(
            content=self.tok.decode(ids, skip_special_tokens=True),
            finish_reason="length" if len(ids) >= max_tokens and not ended else "stop", model=self.model,
            usage=Usage(calls=1, prompt_tokens=int(enc["input_ids"].shape[1]), completion_tokens=n_out,
                        seconds=time.perf_counter() - t))


def evaluate_checkpoint(
    model: Any,
    tokenizer: Any,
    specs: list[BenchSpec],
    output_dir: str | Path,
    step: int,
    *,
    model_name: str,
    tokenizer_name: str | None,
    max_new_tokens: int,
    max_context: int | None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One eval run directory per benchmark for the weights at ``step``; returns one metrics row per benchmark.

    The row's ``accuracy`` is the benchmark's own score (the eval summary's overall mean); for
    in-distribution ``rubric`` is the mean raw rubric of the answers.
    """
    import torch

    from longtracerl.eval.runner import EvalConfig, run_eval
    from longtracerl.io.jsonl import iter_jsonl

    rows: list[dict[str, Any]] = []
    rng = torch.get_rng_state()  # evaluation must not move the training run's random stream
    was_training = model.training
    model.eval()
    try:
        for s in specs:
            t = time.perf_counter()
            d = run_dir_for(output_dir, s.bench, step)
            cfg = EvalConfig(
                bench=s.bench, data=s.data, out=str(d), label=f"step-{step}", llm="transformers",
                model=f"{model_name}@step-{step}", temperature=0.0, top_p=1.0, top_k=None,
                max_tokens=max_new_tokens, max_context=max_context, tokenizer=tokenizer_name, concurrency=1,
                seed=seed, progress=False)
            res = run_eval(cfg, llm=TrainerModelChat(model, tokenizer, cfg.model))
            summ = res["summary"]
            # an empty final answer is scored 0 without a rubric: it matched no rubric entity
            rubric = [float((r.get("extra") or {}).get("rubric", 0.0)) for _, r in iter_jsonl(d / "results.jsonl")
                      if not r.get("error")] if s.bench == "indist" else []
            row: dict[str, Any] = {"step": step, "kind": "eval", "bench": s.bench,
                                   "accuracy": summ["overall"]["mean"], "n": float(summ["scored_rows"]),
                                   "errors": summ["error_rows"], "run_dir": str(d)}
            if rubric:
                row["rubric"] = sum(rubric) / len(rubric)
            row["seconds"] = round(time.perf_counter() - t, 3)
            rows.append(row)
    finally:
        torch.set_rng_state(rng)
        if was_training:
            model.train()
    return rows


class BenchEvalCallback(ScheduledEvalCallback):
    """``--eval-bench``: evaluation through the eval module before training, every ``every`` steps, at the end."""

    def __init__(self, specs: list[BenchSpec], tokenizer: Any, output_dir: Path, metrics_path: Path, every: int, *,
                 model_name: str, tokenizer_name: str | None, max_new_tokens: int, max_context: int | None,
                 seed: int = 0) -> None:
        super().__init__(every)
        self.specs, self.tokenizer, self.output_dir, self.metrics_path = specs, tokenizer, output_dir, metrics_path
        self.model_name, self.tokenizer_name = model_name, tokenizer_name
        self.max_new_tokens, self.max_context, self.seed = max_new_tokens, max_context, seed

    def evaluate(self, model: Any, step: int) -> None:
        for row in evaluate_checkpoint(model, self.tokenizer, self.specs, self.output_dir, step,
                                       model_name=self.model_name, tokenizer_name=self.tokenizer_name,
                                       max_new_tokens=self.max_new_tokens, max_context=self.max_context,
                                       seed=self.seed):
            append_row(self.metrics_path, row)
