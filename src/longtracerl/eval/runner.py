"""``longtracerl eval run``: ask a model every item x sample, score it by the benchmark's rule, resume.

The run directory (CONTRACTS.md 3): ``config.yaml``, ``results.jsonl`` (one row per item x sample),
``errors.jsonl`` (history of failed attempts), ``summary.json``, ``summary.md``, ``cache/``.
A rerun skips rows already scored; rows that ended in an error are moved to ``errors.jsonl`` and asked
again. Requests carry a per-row seed and go through the LLM cache, so an interrupted run finishes with
the same rows as an uninterrupted one; the file is put in canonical order at the end.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from longtracerl.eval.bench_rules import (
    choice_letter,
    final_answer,
    frames_correct,
    longbench_v2_choice,
    mrcr_final,
    mrcr_grade,
)
from longtracerl.eval.items import EvalItem
from longtracerl.eval.loaders import check_selection, load_items
from longtracerl.eval.prompts import FIELDS, JUDGE_PROMPTS, PROMPTS, check_template, load_template, render
from longtracerl.eval.truncate import middle_truncate
from longtracerl.io.jsonl import JsonlAppender, iter_jsonl, repair_tail, rewrite_in_order, write_records
from longtracerl.llm.base import ChatLLM, LLMError
from longtracerl.llm.tokenizers import chat_prompt_tokens, count_tokens, template_overhead
from longtracerl.reward.verdicts import aa_lcr_verdict
from longtracerl.rng import derived_seed

JUDGED = {"aa-lcr", "frames"}
# Benchmarks whose reply cut at --max-tokens scores 0 without being read: the judged ones (a judge may call a
# cut-off answer CORRECT; AA-LCR's checker is known to accept truncated answers) and ours (the reward pays 0).
# The others keep their published rule, which reads whatever was written.
TRUNCATED_SCORES_ZERO = JUDGED | {"indist"}
PROMPT_HEAD_CHARS = 2000
# Settings that change the answers or their scores: a rerun into the same directory must keep them.
_RESUME_KEYS = ("bench", "data", "llm", "base_url", "model", "judge_base_url", "judge_model", "temperature", "top_p",
                "top_k", "max_tokens", "max_context", "tokenizer", "seed", "prompt_template", "judge_template", "splits",
                "docstore", "articles", "where")


class EvalConfig(BaseModel):
    """Everything ``eval run`` does; written to ``config.yaml`` of the run directory."""

    model_config = ConfigDict(extra="forbid")

    bench: str
    data: str | None = Field(None, description="local path or Hugging Face dataset id (default: the official one)")
    out: str = Field(..., description="run directory, e.g. runs/eval/NAME")
    label: str | None = Field(None, description="name of this model in `eval compare` (default: the model)")
    llm: Literal["openai", "local", "transformers"] = Field(
        "openai", description="transformers: a model held in memory (train grpo --eval-bench), passed to run_eval")
    base_url: str | None = None
    model: str = ""
    api_key: str | None = None
    judge_base_url: str | None = None
    judge_model: str = ""
    judge_api_key: str | None = None
    n_samples: int = Field(1, ge=1, description="samples per item (avg@k, pass@k); the paper uses 4 on AA-LCR")
    temperature: float = 0.6
    top_p: float = 0.95
    top_k: int | None = 20
    max_tokens: int = Field(32000, ge=1)
    max_context: int | None = Field(None, ge=256, description="prompt + answer window; longer prompts are middle-truncated")
    tokenizer: str | None = Field(None, description="HF tokenizer dir for counting/truncation (default: bundled model's)")
    limit: int | None = Field(None, ge=1)
    concurrency: int = Field(16, ge=1)
    timeout: float = 600.0
    max_retries: int = 4
    seed: int = 0
    cot: bool = Field(False, description="LongBench v2: chain-of-thought prompt instead of zero-shot")
    prompt_template: str | None = None
    judge_template: str | None = None
    splits: list[str] | None = Field(None, description="LongReason splits")
    docstore: str | None = Field(None, description="FRAMES: a KILT DocStore to resolve the linked articles")
    articles: str | None = Field(None, description="FRAMES: a JSONL of {title|url, text} articles")
    where: list[str] = Field(default_factory=list, description="keep items whose split field equals a value: key=value")
    progress: bool = True

    @property
    def run_dir(self) -> Path:
        return Path(self.out)

    def resume_view(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _RESUME_KEYS}


class ConfigMismatchError(ValueError):
    pass


def row_seed(seed: int, item_id: str, sample_index: int) -> int:
    """The sampling seed of one (item, sample) row: stable across reruns and resumes."""
    return derived_seed(seed, item_id, sample_index, sep="\0", nbytes=4) % (2**31 - 1)


def _prompt_template(cfg: EvalConfig) -> str | None:
    if cfg.bench in ("mrcr", "indist"):
        if cfg.prompt_template:
            raise ValueError(f"{cfg.bench} sends its published messages as they are; --prompt-file does not apply")
        return None
    if cfg.prompt_template:
        t = load_template(cfg.prompt_template)
        check_template(t, FIELDS[cfg.bench], cfg.prompt_template)
        return t
    key = "longbench-v2-cot" if (cfg.bench == "longbench-v2" and cfg.cot) else cfg.bench
    return PROMPTS[key]


def _judge_template(cfg: EvalConfig) -> str | None:
    if cfg.bench not in JUDGED:
        return None
    t = load_template(cfg.judge_template) if cfg.judge_template else JUDGE_PROMPTS[cfg.bench]
    check_template(t, {"question", "gold", "response"}, cfg.judge_template or f"judge prompt of {cfg.bench}")
    return t


def iter_selected(cfg: EvalConfig) -> Iterator[EvalItem]:
    """The items of this run: loader order, ``--where`` filters, then ``--limit``."""
    opts: dict[str, Any] = {}
    if cfg.splits:
        opts["splits"] = cfg.splits
    if cfg.docstore:
        opts["docstore"] = cfg.docstore
    if cfg.articles:
        opts["articles"] = cfg.articles
    conds = []
    for w in cfg.where:
        if "=" not in w:
            raise ValueError(f"--where {w!r}: expected key=value (e.g. needles=8)")
        k, v = w.split("=", 1)
        conds.append((k.strip(), v.strip()))
    n = 0
    for item in load_items(cfg.bench, cfg.data, **opts):
        if all(item.split.get(k) == v for k, v in conds):
            yield item
            n += 1
            if cfg.limit is not None and n >= cfg.limit:
                return


class Runner:
    """Asks, scores and writes rows; one instance per run."""

    def __init__(self, cfg: EvalConfig, llm: ChatLLM, judge: ChatLLM | None, tokenizer: Any) -> None:
        self.cfg = cfg
        self.llm = llm
        self.judge = judge
        self.tok = tokenizer
        self.template = _prompt_template(cfg)
        self.judge_template = _judge_template(cfg)
        if cfg.bench in JUDGED and judge is None:
            raise ValueError(f"{cfg.bench} is scored by an LLM judge: pass --judge-base-url and --judge-model")
        self.budget = None
        # what the chat template adds around one user message, measured once on this tokenizer: a prompt's
        # length is its text's count plus this, as the served model counts it
        self.overhead = template_overhead(tokenizer, "Read the documents.\n\nQuestion: which one?")
        if cfg.max_context is not None:
            self.budget = cfg.max_context - cfg.max_tokens - self.overhead
            if self.budget < 128:
                raise ValueError(f"--max-context {cfg.max_context} leaves no room for the prompt after "
                                 f"--max-tokens {cfg.max_tokens}; raise the first or lower the second")

    # ------------------------------------------------------------------ prompt
    def messages(self, item: EvalItem) -> tuple[list[dict[str, Any]], int, str | None]:
        """``(messages, prompt_tokens, error)``; ``prompt_tokens`` counts the chat template too (what the window
        holds); error when a published message list exceeds the window."""
        if item.messages is not None:
            msgs = item.messages
            n = chat_prompt_tokens(self.tok, msgs)  # a published conversation: counted with the chat template
            room = None if self.cfg.max_context is None else self.cfg.max_context - self.cfg.max_tokens
            if room is not None and n > room:
                return msgs, n, f"prompt_too_long: {n} tokens > {room} available under --max-context"
            return msgs, n, None
        assert self.template is not None
        text = render(self.template, item.fields)
        if self.budget is not None:
            text, _, n = middle_truncate(self.tok, text, self.budget)
        else:
            n = count_tokens(self.tok, text)
        return [{"role": "user", "content": text}], n + self.overhead, None

    # ------------------------------------------------------------------ one row
    def blank_row(self, item: EvalItem, k: int) -> dict[str, Any]:
        """The row of ``item`` x sample ``k`` before the model is asked (every field of the contract)."""
        return {
            "row_id": f"{item.item_id}#{k}", "item_id": item.item_id, "bench": item.bench, "sample_index": k,
            "split": item.split, "prompt_sha256": None, "prompt_tokens": None, "prompt_head": "",
            "question": item.question[:2000], "gold": item.gold, "response": None, "reasoning_chars": 0,
            "extracted": None, "score": None, "judge_reply": None, "error": None, "usage": {}, "finish_reason": None,
            "truncated": False, "extra": {},
        }

    async def row(self, item: EvalItem, k: int) -> dict[str, Any]:
        """One scored row; whatever goes wrong on the way (the endpoint, a garbage reply, a scorer) becomes
        the row's ``error``: a row is never lost and never counted as a wrong answer."""
        row = self.blank_row(item, k)
        stage = ["prompt"]  # what the row was doing when it failed: prompt, model, scoring or judge
        try:
            await self._fill(row, item, k, stage)
        except LLMError as e:
            row["score"], row["error"] = None, f"{stage[0]}: {e}"
        except Exception as e:  # noqa: BLE001 - any failure of one row is that row's error, not the run's
            row["score"], row["error"] = None, f"{stage[0]}: {type(e).__name__}: {e}"
        return row

    async def _fill(self, row: dict[str, Any], item: EvalItem, k: int, stage: list[str]) -> None:
        cfg = self.cfg
        # tokenizing (counting, middle truncation) runs in a worker thread: the Rust tokenizer releases the
        # GIL, and the event loop keeps the other requests flowing meanwhile
        msgs, n_tok, err = await asyncio.to_thread(self.messages, item)
        canon = json.dumps(msgs, ensure_ascii=False, sort_keys=True)
        flat = "\n\n".join(str(m.get("content", "")) for m in msgs)
        row.update(prompt_sha256=hashlib.sha256(canon.encode()).hexdigest(), prompt_tokens=n_tok,
                   prompt_head=flat[:PROMPT_HEAD_CHARS], error=err)
        if err:
            return
        stage[0] = "model"
        resp = await self.llm.chat(msgs, temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_tokens,
                                   seed=row_seed(cfg.seed, item.item_id, k))
        stage[0] = "scoring"
        row["response"] = resp.content
        row["finish_reason"] = resp.finish_reason
        row["usage"] = {**resp.usage.model_dump(), "cached": resp.cached}
        final, row["reasoning_chars"] = final_answer(resp.content, resp.reasoning)
        row["truncated"] = resp.finish_reason == "length"  # cut at --max-tokens: counted apart in the summary
        if row["truncated"] and item.bench in TRUNCATED_SCORES_ZERO:
            row["extracted"] = final[:PROMPT_HEAD_CHARS] or None
            row["score"] = 0.0  # the answer never finished: 0, and no judge is asked
            row["extra"]["reason"] = "truncated"
            return
        await self.score(item, row, final, resp.content, resp.reasoning, stage)

    async def score(self, item: EvalItem, row: dict[str, Any], final: str, raw: str, reasoning: str | None,
                    stage: list[str]) -> None:
        b = item.bench
        if b == "mrcr":
            text = mrcr_final(raw, reasoning)
            row["extracted"] = text[:PROMPT_HEAD_CHARS]
            # difflib takes seconds on a 100K-character response: keep the event loop free meanwhile
            row["score"] = await asyncio.to_thread(mrcr_grade, text, item.gold, item.meta["random_string_to_prepend"])
            return
        if not final:
            row["score"] = 0.0
            row["extra"]["reason"] = "empty_final_answer"
            return
        if b == "longbench-v2":
            row["extracted"] = longbench_v2_choice(final)
            row["score"] = float(row["extracted"] == item.gold)
        elif b == "longreason":
            row["extracted"] = choice_letter(final, item.meta.get("letters", "ABCDE"))
            row["score"] = float(row["extracted"] == item.gold)
        elif b == "indist":
            from longtracerl.reward.outcome import Contains
            from longtracerl.reward.rubric import rubric_score

            oc = Contains().score_sync(final, item.gold, question=item.question)
            rb = rubric_score(final, tuple(item.meta.get("rubrics", [])))
            row["extracted"] = final[:PROMPT_HEAD_CHARS]
            row["score"] = oc.score
            row["extra"].update(rubric=rb.score, rubric_matched=rb.matched)
        elif b in JUDGED:
            row["extracted"] = final[:PROMPT_HEAD_CHARS]
            assert self.judge is not None and self.judge_template is not None
            prompt = render(self.judge_template, {"question": item.question, "gold": item.gold, "response": final})
            stage[0] = "judge"
            jr = await self.judge.chat([{"role": "user", "content": prompt}], temperature=0.0,
                                       max_tokens=min(self.cfg.max_tokens, 1024))
            stage[0] = "scoring"
            row["judge_reply"] = jr.content
            row["usage"]["judge"] = jr.usage.model_dump()
            verdict = aa_lcr_verdict(jr.content) if b == "aa-lcr" else frames_correct(jr.content)
            if verdict is None:
                word = "CORRECT/INCORRECT verdict at the start of" if b == "aa-lcr" else "TRUE/FALSE decision in"
                row["error"] = f"judge: no {word} the reply"
            else:
                row["score"] = float(verdict)
        else:  # pragma: no cover - loaders and scorers are registered together
            raise ValueError(f"no scorer for {b}")


# ---------------------------------------------------------------------- run directory


def prepare_run_dir(cfg: EvalConfig) -> tuple[set[str], int]:
    """Check the config against an earlier run; keep finished rows, move error rows to errors.jsonl.

    Returns (finished row ids, error rows moved).
    """
    d = cfg.run_dir
    d.mkdir(parents=True, exist_ok=True)
    cfg_path = d / "config.yaml"
    if cfg_path.exists():
        old = yaml.safe_load(cfg_path.read_text()) or {}
        old_view = {k: old.get(k) for k in _RESUME_KEYS}
        new_view = json.loads(json.dumps(cfg.resume_view()))
        diff = [k for k in _RESUME_KEYS if old_view.get(k) != new_view.get(k)]
        if diff:
            raise ConfigMismatchError(f"{d} was started with other settings ({', '.join(diff)}); "
                                      "use another --out or the same settings")
    tmp = cfg_path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(cfg.model_dump(mode="json", exclude={"api_key", "judge_api_key"}), sort_keys=False))
    os.replace(tmp, cfg_path)
    results = d / "results.jsonl"
    done: set[str] = set()
    moved = 0
    if results.exists():
        repair_tail(results)
        keep: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for _, obj in iter_jsonl(results):
            (errors if obj.get("error") else keep).append(obj)
        if errors:
            with (d / "errors.jsonl").open("a", encoding="utf-8") as f:
                for e in errors:
                    f.write(json.dumps(e, ensure_ascii=False) + "\n")
            write_records(results, keep)
            moved = len(errors)
        done = {str(o["row_id"]) for o in keep}
    return done, moved


def make_models(cfg: EvalConfig) -> tuple[ChatLLM, ChatLLM | None]:
    from longtracerl.llm import make_llm

    cache = cfg.run_dir / "cache"
    if cfg.llm == "transformers":
        raise ValueError("llm 'transformers' answers from a model held in memory (train grpo --eval-bench); "
                         "use --llm local or openai")
    if cfg.llm == "local":
        n_ctx = cfg.max_context or 8192
        llm = make_llm("local", model=cfg.model or None, cache_dir=cache, n_ctx=n_ctx, stage="eval")  # --model: a GGUF
    else:
        extra = {"top_k": cfg.top_k} if cfg.top_k is not None else {}
        llm = make_llm("openai", base_url=cfg.base_url, model=cfg.model, api_key=cfg.api_key, cache_dir=cache,
                       stage="eval", max_concurrency=cfg.concurrency, timeout=cfg.timeout,
                       max_retries=cfg.max_retries, extra_body=extra)
    judge: ChatLLM | None = None
    if cfg.bench in JUDGED:
        if cfg.judge_base_url:
            judge = make_llm("openai", base_url=cfg.judge_base_url, model=cfg.judge_model, api_key=cfg.judge_api_key,
                             cache_dir=cache, stage="judge", max_concurrency=cfg.concurrency, timeout=cfg.timeout,
                             max_retries=cfg.max_retries)
        elif cfg.llm == "local":
            judge = llm  # the bundled model judges itself: only to exercise the machinery offline
    return llm, judge


async def run_async(cfg: EvalConfig, llm: ChatLLM, judge: ChatLLM | None, tokenizer: Any) -> dict[str, Any]:
    """Run (or resume) and return counts; rows are written as they finish, then put in canonical order."""
    runner = Runner(cfg, llm, judge, tokenizer)
    done, moved = prepare_run_dir(cfg)
    results = cfg.run_dir / "results.jsonl"
    order: list[str] = []
    stats = {"asked": 0, "skipped_done": 0, "errors": 0, "retried_errors": moved}
    sem = asyncio.Semaphore(cfg.concurrency)
    tasks: set[asyncio.Task[None]] = set()
    failed: list[BaseException] = []  # a task that died (rows never do: see Runner.row) stops the run, loudly
    bar = _progress(cfg)

    def finished(t: asyncio.Task[None]) -> None:
        tasks.discard(t)
        if not t.cancelled() and t.exception() is not None:
            failed.append(t.exception())  # type: ignore[arg-type]

    with JsonlAppender(results, "row_id") as out:
        async def one(item: EvalItem, k: int) -> None:
            try:
                row = await runner.row(item, k)
                out.write(row)
                stats["errors"] += bool(row["error"])
                if bar is not None:
                    bar.advance()
            finally:
                sem.release()

        for item in iter_selected(cfg):
            for k in range(cfg.n_samples):
                rid = f"{item.item_id}#{k}"
                order.append(rid)
                if rid in done:
                    stats["skipped_done"] += 1
                    continue
                await sem.acquire()
                stats["asked"] += 1
                if bar is not None:
                    bar.total(stats["asked"])
                t = asyncio.create_task(one(item, k))
                tasks.add(t)
                t.add_done_callback(finished)
                if failed:
                    break
            if failed:
                break
        if tasks:
            await asyncio.gather(*list(tasks), return_exceptions=True)
        if failed:
            raise failed[0]
    if bar is not None:
        bar.stop()
    rewrite_in_order(results, "row_id", order)
    stats["rows"] = len(order)
    return stats


class _Bar:
    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.p = Progress(TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True)
        self.task = self.p.add_task("eval", total=0)
        self.p.start()

    def total(self, n: int) -> None:
        self.p.update(self.task, total=n)

    def advance(self) -> None:
        self.p.advance(self.task)

    def stop(self) -> None:
        self.p.stop()


def _progress(cfg: EvalConfig) -> _Bar | None:
    return _Bar() if cfg.progress else None


def run_eval(cfg: EvalConfig, *, llm: ChatLLM | None = None, judge: ChatLLM | None = None) -> dict[str, Any]:
    """Synchronous entry point: builds the models (unless given), runs, writes the summary."""
    from longtracerl.eval.summary import write_summary
    from longtracerl.llm.tokenizers import load_tokenizer

    check_selection(cfg.bench, cfg.splits, cfg.where)  # a typo fails here, before any model or tokenizer loads
    if llm is None:
        llm, judge = make_models(cfg)
    tok = load_tokenizer(cfg.tokenizer)

    async def main() -> dict[str, Any]:
        assert llm is not None
        try:
            return await run_async(cfg, llm, judge, tok)
        finally:  # HTTP sessions belong to this event loop: close them in it
            for m in {id(x): x for x in (llm, judge) if x is not None}.values():
                close = getattr(m, "aclose", None)
                if close is not None:
                    await close()

    stats = asyncio.run(main())
    summary = write_summary(cfg.run_dir)
    return {"stats": stats, "summary": summary}
