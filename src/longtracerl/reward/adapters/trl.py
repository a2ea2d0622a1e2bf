"""TRL adapter: a reward callable for ``trl.GRPOTrainer(reward_funcs=[...])`` (TRL 1.16).

TRL calls every reward function with keywords ``prompts, completions, completion_ids`` plus each dataset
column as a list aligned with the completions (``label``, ``rubrics``, ``question``, ...) and
``trainer_state``, ``log_extra``, ``log_metric``. The G completions of one prompt are G consecutive
entries (TRL's ``RepeatSampler``), so the group step (rubric normalization by the group max, positive-only
combination) runs on consecutive blocks of ``num_generations``; a block whose prompts differ raises instead
of silently mixing two prompts' groups.

Truncation: TRL does not pass a flag, but it passes the token ids; a completion is truncated when its last
id is not an end-of-sequence or pad id (TRL's own ``completions/clipped_ratio`` test), so give
``eos_token_ids`` (``LongTraceTRLReward.for_model`` does). Without them, a completion of
``max_completion_length`` tokens counts as truncated.

Released format gate (``format: released``): TRL decodes completions WITHOUT special tokens, which hides
a stop on ``<|endoftext|>`` and special tokens left in the content. With a ``tokenizer`` (``for_model``
passes it) the adapter re-decodes ``completion_ids`` with special tokens kept and gates that text.

A failed judge: the adapter returns ``None`` for that completion (an error state, never an outcome). TRL 1.16
turns ``None`` into NaN; a completion for which every reward function returned NaN is "unscorable": it is
left out of its group's mean and std (``nanmean``/``nanstd``) and its advantage is set to 0. With other reward
functions beside this one, TRL sums theirs (``nansum``), so ours counts as missing, not as 0. The metric
``<name>/judge_errors`` counts such completions per call.

Aliases: a dataset column ``aliases`` (a mapping entity -> names, or its JSON string, as ``load_dataset``
writes it from the export's ``rubric_aliases``) is passed to the rubric matcher.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from longtracerl.reward import run_sync
from longtracerl.reward.adapters._common import (
    as_aliases,
    as_str_list,
    get_reward,
    load_reward_config,
    message_text,
)


def _prompt_key(prompt: Any) -> str:
    return prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True, default=str)


class LongTraceTRLReward:
    """Callable reward for GRPOTrainer; returns one value per completion: the combined LongTraceRL reward, or
    None where the judge failed."""

    def __init__(
        self,
        config: Any = None,
        *,
        num_generations: int,
        num_generations_eval: int | None = None,
        eos_token_ids: Iterable[int] | None = None,
        max_completion_length: int | None = None,
        name: str = "longtrace",
        tokenizer: Any = None,
    ) -> None:
        if num_generations < 1:
            raise ValueError(f"num_generations must be >= 1, got {num_generations}")
        self.config = load_reward_config(config)
        self.num_generations = num_generations
        self.num_generations_eval = num_generations_eval
        self.eos_token_ids = set(eos_token_ids) if eos_token_ids is not None else None
        self.max_completion_length = max_completion_length
        self.tokenizer = tokenizer
        self.__name__ = name  # TRL logs rewards/<__name__>/mean

    @classmethod
    def for_model(
        cls, model: Any, tokenizer: Any, config: Any = None, *, num_generations: int, **kwargs: Any
    ) -> LongTraceTRLReward:
        """Take the end-of-sequence ids exactly as GRPOTrainer does (generation config eos + pad token)."""
        eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
        ids: set[int] = set()
        if isinstance(eos, int):
            ids.add(eos)
        elif eos:
            ids.update(int(i) for i in eos)
        for tid in (getattr(tokenizer, "eos_token_id", None), getattr(tokenizer, "pad_token_id", None)):
            if tid is not None:
                ids.add(int(tid))
        kwargs.setdefault("tokenizer", tokenizer)
        return cls(config, num_generations=num_generations, eos_token_ids=ids, **kwargs)

    # ---------------------------------------------------------------- grouping

    def _group_size(self, prompts: Sequence[Any]) -> int:
        keys = [_prompt_key(p) for p in prompts]
        sizes = [self.num_generations]
        if self.num_generations_eval and self.num_generations_eval != self.num_generations:
            sizes.append(self.num_generations_eval)
        for g in sizes:
            if len(keys) % g == 0 and all(len(set(keys[i : i + g])) == 1 for i in range(0, len(keys), g)):
                return g
        raise ValueError(
            f"LongTraceRL reward got {len(keys)} completions that do not form consecutive groups of "
            f"num_generations={self.num_generations} completions of one prompt; the group step (rubric "
            "normalization, positive-only) needs whole groups. Make per_device_train_batch_size * "
            "steps_per_generation a multiple of num_generations and give the reward the trainer's num_generations."
        )

    def _truncated(self, completion_ids: Sequence[Sequence[int]] | None, n: int) -> list[bool] | None:
        if completion_ids is None:
            return None
        out = []
        for ids in completion_ids:
            ids = list(ids)
            if not ids:
                out.append(True)
            elif self.eos_token_ids is not None:
                out.append(int(ids[-1]) not in self.eos_token_ids)
            elif self.max_completion_length is not None:
                out.append(len(ids) >= self.max_completion_length)
            else:
                return None
        return out

    # ---------------------------------------------------------------- call

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        completion_ids: Sequence[Sequence[int]] | None = None,
        *,
        label: Sequence[Any] | None = None,
        rubrics: Sequence[Any] | None = None,
        question: Sequence[Any] | None = None,
        aliases: Sequence[Any] | None = None,
        log_extra: Callable[[str, list[Any]], None] | None = None,
        log_metric: Callable[[str, float], None] | None = None,
        **_: Any,
    ) -> list[float | None]:
        n = len(completions)
        if len(prompts) != n:
            raise ValueError(f"{len(prompts)} prompts for {n} completions")
        if label is None:
            raise ValueError("the training dataset has no 'label' column (the gold answer)")
        for name, col in (("label", label), ("rubrics", rubrics), ("question", question)):
            if col is not None and len(col) != n:
                raise ValueError(f"column {name!r} has {len(col)} entries for {n} completions")
        g = self._group_size(prompts)
        truncated = self._truncated(completion_ids, n)
        reward = get_reward(self.config)
        texts = [message_text(c) for c in completions]
        if self.config.format == "released" and self.tokenizer is not None and completion_ids is not None:
            texts = [self.tokenizer.decode(list(ids), skip_special_tokens=False) for ids in completion_ids]
        jobs: list[tuple[list[str], str, list[str], dict[str, Any]]] = []
        for start in range(0, n, g):
            block = slice(start, start + g)
            labels = {str(x) for x in label[block]}
            if len(labels) != 1:
                raise ValueError(f"completions {start}..{start + g - 1} share a prompt but not a label: {labels}")
            jobs.append((
                texts[block],
                str(label[start]),
                as_str_list(rubrics[start] if rubrics is not None else None, "rubrics"),
                {
                    "question": str(question[start]) if question is not None and question[start] is not None else "",
                    "aliases": as_aliases(aliases[start] if aliases is not None else None),
                    "truncated": truncated[block] if truncated is not None else None,
                },
            ))

        async def _all() -> list[Any]:  # every group of the batch at once: judge calls overlap
            return list(await asyncio.gather(*(reward.ascore_group(r, lab, rub, **kw) for r, lab, rub, kw in jobs)))

        results = [r for group in run_sync(_all()) for r in group]
        decided = [r for r in results if r.error is None]
        if log_extra is not None:
            log_extra("outcome", [r.outcome for r in results])
            log_extra("rubric", [r.rubric_raw for r in results])
        if log_metric is not None:
            if decided:
                log_metric(f"{self.__name__}/outcome_mean", sum(float(r.outcome or 0.0) for r in decided) / len(decided))
                log_metric(f"{self.__name__}/rubric_mean", sum(r.rubric_raw for r in decided) / len(decided))
            log_metric(f"{self.__name__}/judge_errors", float(len(results) - len(decided)))
        # None for a failed judge: TRL turns it into NaN and leaves it out (see the module docstring)
        return [None if r.reward is None else float(r.reward) for r in results]
