"""``LongTraceReward``: the whole reward of PAPER.md 3 over one group of responses, from one config.

Every adapter (TRL, verl, slime, OpenRLHF) and the reward server are thin layers over this class, so a
reward computed anywhere in the project is the same number.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from longtracerl.records import RewardResult
from longtracerl.reward.combine import Strategy, combine_group, combine_one
from longtracerl.reward.format import END_OF_TURN, FormatRule, check_format
from longtracerl.reward.outcome import get_outcome_scorer
from longtracerl.reward.outcome_base import OutcomeResult, OutcomeScorer
from longtracerl.reward.rubric import RubricMode, rubric_score

T = TypeVar("T")


class JudgeSettings(BaseModel):
    """The LLM judge of the outcome (``outcome: judge``); see ``reward/judge.py`` for the decision rule."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | list[str] | None = None  # several: a pool of judge endpoints (llm/pool.py)
    api_key: str = "none"
    model: str = ""
    prompt: Literal["hle", "aa_lcr"] = Field("hle", description="built-in prompt (our wording)")
    prompt_file: str | None = Field(None, description="a template file with {question} {response} "
                                                      "{correct_answer} placeholders; overrides prompt")
    verdict: Literal["yes_no", "correct_incorrect"] | None = Field(
        None, description="how to read a prompt_file's reply (default: yes_no)")
    tries: int = Field(3, ge=1, description="judge calls per answer before the explicit error state")
    max_concurrency: int = 128
    timeout: float = 60.0
    max_retries: int = 4
    cache: bool = True
    cache_path: str | None = None


class RewardConfig(BaseModel):
    """Reward settings. Defaults: eta 0.3, positive-only, group-normalized rubric (the paper's), with our
    rule outcome, word-mode rubric and lenient format gate; ``preset: paper`` switches to the paper's judge,
    reference rubric and released format gate (``longtracerl.presets``)."""

    model_config = ConfigDict(extra="forbid")

    preset: Literal["default", "paper"] = Field("default", description="values laid under the ones given")
    eta: float = Field(0.3, ge=0.0, le=1.0)
    strategy: Strategy = "positive_only"
    normalize: bool = True
    rubric_mode: RubricMode = "word"
    use_reasoning: bool = False
    outcome: Literal["rule", "judge"] = "rule"
    rule: str = "contains"
    judge: JudgeSettings = Field(default_factory=JudgeSettings)
    format_gate: bool = Field(True, description="False: never pay 0 for the form of a response")
    format: FormatRule = Field("lenient", description="released: the released reward's gate; lenient: "
                                                      "truncation and empty answer only (reward/format.py)")
    end_of_turn_tokens: list[str] = Field(default_factory=lambda: list(END_OF_TURN),
                                          description="tokens that may end a response under format=released")

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data: Any) -> Any:
        from longtracerl.presets import apply_preset

        return apply_preset("reward", data)

    @classmethod
    def from_yaml(cls, path: str | Path) -> RewardConfig:
        return load_reward_config(Path(path))


#: Frameworks that load our functions by path (verl, slime, OpenRLHF) cannot pass arguments, and
#: ``serve-reward`` hands its settings to its uvicorn workers: all read the reward settings from this
#: variable, which is always the PATH of a YAML or JSON file with the fields of ``RewardConfig`` (optionally
#: under a top-level ``reward:`` key, as in a build config). Never inline JSON.
CONFIG_ENV = "LONGTRACERL_REWARD_CONFIG"


def load_reward_config(source: RewardConfig | dict[str, Any] | str | Path | None = None) -> RewardConfig:
    """A ``RewardConfig`` from an object, a dict, a YAML/JSON file path, ``$LONGTRACERL_REWARD_CONFIG`` (a file
    path) or the defaults: the one loader of the adapters and the reward server."""
    if isinstance(source, RewardConfig):
        return source
    if isinstance(source, dict):
        return RewardConfig.model_validate(source)
    where = "the caller" if source is not None else f"${CONFIG_ENV}"
    path = source if source is not None else os.environ.get(CONFIG_ENV) or None
    if path is None:
        return RewardConfig()
    if str(path).lstrip().startswith("{"):
        raise ValueError(f"reward config from {where} looks like inline JSON; {CONFIG_ENV} and config arguments "
                         "take the path of a YAML or JSON file with RewardConfig fields")
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"reward config file not found: {p} (from {where})")
    text = p.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else (yaml.safe_load(text) or {})
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise ValueError(f"{p}: not valid {'JSON' if p.suffix.lower() == '.json' else 'YAML'}: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{p}: a reward config must be a mapping of RewardConfig fields, got {type(data).__name__}")
    try:
        return RewardConfig.model_validate(data.get("reward", data))
    except ValueError as e:  # pydantic names the field; add the file
        raise ValueError(f"{p}: invalid reward config: {e}") from None


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code, also when the calling thread already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class LongTraceReward:
    """Outcome (rule or LLM judge) x rubric (entity matching) -> group-combined reward."""

    def __init__(self, config: RewardConfig | None = None, *, scorer: OutcomeScorer | None = None) -> None:
        self.config = config or RewardConfig()
        self._scorer = scorer

    @property
    def scorer(self) -> OutcomeScorer:
        if self._scorer is None:
            c = self.config
            if c.outcome == "judge":
                j = c.judge
                self._scorer = get_outcome_scorer(
                    "judge", base_url=j.base_url, api_key=j.api_key, model=j.model, prompt=j.prompt,
                    use_cache=j.cache, cache_path=j.cache_path, max_concurrency=j.max_concurrency,
                    timeout=j.timeout, max_retries=j.max_retries, tries=j.tries, prompt_file=j.prompt_file,
                    verdict=j.verdict,
                )
            else:
                self._scorer = get_outcome_scorer(c.rule)
        return self._scorer

    def gate(self, response: str, truncated: bool) -> str | None:
        """Why a response is paid 0 regardless of content (None when it passes the format gate)."""
        return self.check(response, truncated)[0]

    def check(self, response: str, truncated: bool) -> tuple[str | None, str]:
        """``(gate reason or None, the response to score)``: see ``reward/format.py``."""
        c = self.config
        if not c.format_gate:
            return None, response
        return check_format(response, c.format, truncated=truncated, end_of_turn=c.end_of_turn_tokens)

    async def _outcome(self, response: str, label: str, question: str, aliases: list[str] | None,
                       gate: str | None) -> OutcomeResult:
        if gate is not None:
            return OutcomeResult(score=0.0, correct=False, details={"format_gate": gate})
        return await self.scorer.score(response, label, question=question, aliases=aliases)

    async def ascore_group(
        self,
        responses: Sequence[str],
        label: str,
        rubrics: Sequence[str],
        *,
        question: str = "",
        aliases: Mapping[str, Sequence[str]] | None = None,
        answer_aliases: list[str] | None = None,
        truncated: Sequence[bool] | None = None,
    ) -> list[RewardResult]:
        """Rewards of the G responses to one prompt (outcomes scored concurrently)."""
        c = self.config
        trunc = list(truncated) if truncated is not None else [False] * len(responses)
        if len(trunc) != len(responses):
            raise ValueError(f"truncated has {len(trunc)} entries for {len(responses)} responses")
        checked = [self.check(r, t) for r, t in zip(responses, trunc, strict=True)]
        gates = [g for g, _ in checked]
        responses = [r for _, r in checked]
        outcomes = await asyncio.gather(
            *(self._outcome(r, label, question, answer_aliases, g) for r, g in zip(responses, gates, strict=True))
        )
        rubs = [rubric_score(r, rubrics, aliases=aliases, mode=c.rubric_mode, use_reasoning=c.use_reasoning)
                for r in responses]
        raw = [x.score if g is None else 0.0 for x, g in zip(rubs, gates, strict=True)]
        # a judge that could not decide is an error state: out of the group max and normalization, reward None
        oc = [None if o.error is not None else o.score for o in outcomes]
        rewards = combine_group(oc, raw, eta=c.eta, strategy=c.strategy, normalize=c.normalize)
        m = max((r for r, o in zip(raw, oc, strict=True) if o is not None), default=0.0)
        out = []
        for o, rb, x, g, rew in zip(outcomes, raw, rubs, gates, rewards, strict=True):
            details: dict[str, Any] = {"strategy": c.strategy, "eta": c.eta, "group_max_rubric": m}
            if g is not None:
                details["format_gate"] = g
            details.update({k: v for k, v in o.details.items() if k not in details and k != "judge_output"})
            err = o.error
            out.append(RewardResult(
                outcome=None if err else o.score, rubric_raw=rb,
                rubric_normalized=None if err else (rb / m if (c.normalize and m > 0) else rb),
                reward=rew, error=err, matched_entities=x.matched if g is None else [], details=details,
            ))
        return out

    def score_group(self, responses: Sequence[str], label: str, rubrics: Sequence[str], **kw: Any) -> list[RewardResult]:
        return run_sync(self.ascore_group(responses, label, rubrics, **kw))

    async def ascore_one(
        self,
        response: str,
        label: str,
        rubrics: Sequence[str],
        *,
        question: str = "",
        rubric_reward_ratio: float | None = None,
        aliases: Mapping[str, Sequence[str]] | None = None,
        answer_aliases: list[str] | None = None,
        truncated: bool = False,
        rubric_text: str | None = None,
    ) -> RewardResult:
        """One response, released per-request semantics: ``(1 - ratio) * outcome + ratio * rubric`` with
        the raw rubric; positive-only and group normalization come later in the trainer's group step.
        ``rubric_text`` overrides what the rubric is matched on (the server's content/reasoning flags)."""
        c = self.config
        ratio = c.eta if rubric_reward_ratio is None else rubric_reward_ratio
        g, response = self.check(response, truncated)
        o = await self._outcome(response, label, question, answer_aliases, g)
        if rubric_text is not None:
            x = rubric_score(rubric_text.replace("</think>", " "), rubrics, aliases=aliases, mode=c.rubric_mode)
        else:
            x = rubric_score(response, rubrics, aliases=aliases, mode=c.rubric_mode, use_reasoning=c.use_reasoning)
        rb = x.score if g is None else 0.0
        details: dict[str, Any] = {"ratio": ratio}
        if g is not None:
            details["format_gate"] = g
        err = o.error
        return RewardResult(outcome=None if err else o.score, rubric_raw=rb, rubric_normalized=None if err else rb,
                            reward=None if err else combine_one(o.score, rb, eta=ratio, strategy="all"), error=err,
                            matched_entities=x.matched if g is None else [], details=details)

    def score_one(self, response: str, label: str, rubrics: Sequence[str], **kw: Any) -> RewardResult:
        return run_sync(self.ascore_one(response, label, rubrics, **kw))
