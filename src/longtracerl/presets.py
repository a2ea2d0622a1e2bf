"""Presets (``--preset paper``) and the settings-vs-paper table, in one place.

A preset is a nested dict of config values laid UNDER what the user gives: YAML keys, CLI flags and
``--set`` overrides all win over it. The paper preset holds every setting PAPER.md (the paper or its
released code) states; settings the paper is silent on keep our defaults and show as "not stated in the
paper" in the table. ``settings_table`` compares any resolved config with the paper, row by row, for the
build report (``stats.json["settings_vs_paper"]`` and the first table of ``report.md``), ``train``,
``serve-reward`` and ``eval``.

This module imports no other part of the package at import time (configs import it to apply presets).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

NOT_STATED = "not stated in the paper"
PRESETS = ("default", "paper")

#: ``BuildConfig`` values of the paper preset (PAPER.md 2): 8-hop walks, an LLM choosing among at most 5
#: unvisited candidates, an LLM question writer, an LLM search agent calling the tools search / open /
#: answer-with-cite (OpenAI tool calling) with K = 5 attempts, the LLM judge
#: deciding which attempts solved the question, trajectory-tiered distractors, L = 128K.
BUILD_PAPER: dict[str, Any] = {
    "walk": {"hops": 8, "chooser": "llm", "max_candidates": 5},
    "questions": {"writer": "llm"},
    "agent": {"kind": "llm", "protocol": "tools", "attempts": 5, "max_tokens": 4096},
    "outcome": {"scorer": "judge", "judge_prompt": "hle", "judge_tries": 3, "judge_max_tokens": 2048},
    "distractors": {"strategy": "trajectory_tiered"},
    "assembly": {"max_tokens": 131072},
}

#: ``RewardConfig`` values of the paper preset (PAPER.md 3 and the released reward server).
REWARD_PAPER: dict[str, Any] = {
    "eta": 0.3,
    "strategy": "positive_only",
    "normalize": True,
    "rubric_mode": "reference",
    "use_reasoning": False,
    "outcome": "judge",
    "format_gate": True,
    "format": "released",
    "judge": {"prompt": "hle", "tries": 3},
}

#: GRPO values of the paper preset (PAPER.md 4). ``PaperGRPOConfig``'s defaults are already these.
GRPO_PAPER: dict[str, Any] = {
    "learning_rate": 2e-6, "lr_scheduler": "constant", "weight_decay": 0.1, "adam_beta1": 0.9,
    "adam_beta2": 0.98, "num_generations": 8, "prompts_per_step": 16, "max_steps": 200,
    "epsilon_low": 0.2, "epsilon_high": 0.28, "token_level_loss": True, "beta": 0.0, "entropy_coef": 0.0,
    "adv_epsilon": 1e-6, "temperature": 1.0, "max_prompt_length": 131072, "max_completion_length": 32768,
    "is_correction": True, "is_min": 0.5, "is_max": 2.0,
}

#: Evaluation sampling of the paper (PAPER.md 5): for the eval runner (issue 8) to lay under its settings.
EVAL_PAPER: dict[str, Any] = {
    "temperature": 0.6, "top_p": 0.95, "top_k": 20, "samples": 4, "max_tokens": 32000,
    "max_context_tokens": 160000,
}
#: ``eval run``'s defaults are already the paper's sampling (issue 8); kept as its own dict so they can diverge.
EVAL_DEFAULT: dict[str, Any] = dict(EVAL_PAPER)

_PRESET_DATA: dict[str, dict[str, dict[str, Any]]] = {
    "build": {"default": {}, "paper": BUILD_PAPER},
    "reward": {"default": {}, "paper": REWARD_PAPER},
    "grpo": {"default": {}, "paper": GRPO_PAPER},
    "eval": {"default": EVAL_DEFAULT, "paper": EVAL_PAPER},
}


class PresetError(ValueError):
    """A preset is unknown, or needs something (an LLM, a tokenizer, a judge) the user did not give."""


def preset_values(kind: str, name: str) -> dict[str, Any]:
    """A deep copy of preset ``name`` for config ``kind`` (build | reward | grpo | eval)."""
    if name not in PRESETS:
        raise PresetError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return copy.deepcopy(_PRESET_DATA[kind][name])


def eval_settings(preset: str = "default", **overrides: Any) -> dict[str, Any]:
    """Sampling settings for ``eval``: the preset's, with non-None ``overrides`` on top."""
    out = preset_values("eval", preset)
    out.update({k: v for k, v in overrides.items() if v is not None})
    return out


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``, recursively for nested mappings (``top`` wins)."""
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def apply_preset(kind: str, data: Any) -> Any:
    """Pydantic ``mode="before"`` helper: lay the preset named in ``data["preset"]`` under ``data``."""
    if not isinstance(data, Mapping):
        return data
    name = data.get("preset") or "default"
    if name not in PRESETS:
        raise PresetError(f"preset: unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return deep_merge(preset_values(kind, name), data)


# ---------------------------------------------------------------------------- requirements


def check_build_requirements(cfg: Any) -> None:
    """Fail at once (one line naming the flag to add) when the paper preset lacks an LLM or a tokenizer.

    (``longtracerl.pipeline.build.check_build`` adds the judge prompt file check, which needs the reward stage.)"""
    if getattr(cfg, "preset", "default") != "paper":
        return
    if cfg.llm.kind == "none":
        raise PresetError("--preset paper needs an LLM for the walk chooser, question writer, search agent and "
                          "judge: add --llm openai --base-url URL --model NAME (or --llm local for the bundled model)")
    if cfg.llm.kind == "openai" and not cfg.llm.base_url:
        raise PresetError("--preset paper with --llm openai needs the endpoint: add --base-url URL")
    if not cfg.assembly.tokenizer:
        raise PresetError("--preset paper counts the context length L with the trained model's tokenizer: add "
                          "--tokenizer DIR_OR_HF_ID (e.g. --tokenizer Qwen/Qwen3-4B-Thinking-2507)")


def check_reward_requirements(cfg: Any) -> None:
    """The judge outcome needs an endpoint: say which flag to add."""
    if cfg.outcome == "judge" and not cfg.judge.base_url:
        why = "the paper preset scores outcomes with an LLM judge" if getattr(cfg, "preset", "") == "paper" \
            else "outcome=judge"
        raise PresetError(f"{why}: add --judge-base-url URL --judge-model NAME (an OpenAI-compatible endpoint)")


# ---------------------------------------------------------------------------- the table


def _row(setting: str, ours: Any, paper: Any, *, same: bool | None = None) -> dict[str, Any]:
    o = _fmt(ours)
    p = NOT_STATED if paper is None else _fmt(paper)
    differs = False if paper is None else (not same if same is not None else o != p)
    return {"setting": setting, "ours": o, "paper": p, "differs": differs}


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def build_rows(cfg: Any, tokenizer_name: str | None = None) -> list[dict[str, Any]]:
    """Rows of a ``BuildConfig`` (``tokenizer_name``: what actually counted L, when known)."""
    has_llm = cfg.llm.kind != "none"
    writer = cfg.questions.writer if cfg.questions.writer != "auto" else ("llm" if has_llm else "template")
    agent = cfg.agent.kind if cfg.agent.kind != "auto" else ("llm" if has_llm else "solver")
    w = cfg.walk
    judge = cfg.outcome.scorer == "judge"
    o = cfg.outcome
    judge_prompt = (f"file {o.judge_prompt_file}" if o.judge_prompt_file else f"{o.judge_prompt} (our wording)")
    llm = "none" if not has_llm else (cfg.llm.model or cfg.llm.kind)
    return [
        _row("walk: moves per walk", w.hops, 8),
        _row("walk: next-hop chooser", w.chooser, "llm"),
        _row("walk: candidates offered per move", w.max_candidates, 5),
        _row("walk: random-jump probability", w.jump_prob, None),
        _row("walk: hops through common-word mention links (City, River)", "never (docs/graph.md)", None),
        _row("walk: rounds of re-walks for walks repeating a path, tail, answer or middle page",
             w.rewalk_rounds, None),
        _row("LLM for every role (walk, writer, agent, judge)", llm, None),
        _row("question writer", writer, "llm"),
        _row("questions: at most N per answer entity", cfg.questions.max_per_answer, None),
        _row("questions: at most N through one middle page", cfg.questions.max_per_hub, None),
        _row("questions: second reader's margin (BM25 over the neighbours)", cfg.questions.reader_margin, None),
        _row("search agent", agent, "llm"),
        _row("agent actions", "search / open / answer calls in code (clue solver)" if agent == "solver" else
             "tool calls" if cfg.agent.protocol == "tools" else "tagged text",
             "tool calls (search, open, answer + cite)", same=cfg.agent.protocol == "tools"),
        _row("agent attempts per question (K)", cfg.agent.attempts, 5),
        _row("agent turn limit", cfg.agent.max_turns, None),
        _row("agent tokens per turn (thinking included)", cfg.agent.max_tokens, None),
        _row("solve filter: outcome scorer", o.scorer, None),
        _row("solve filter: judge prompt", judge_prompt if judge else "-", None),
        _row("solve filter: judge tokens per call (thinking included)", o.judge_max_tokens if judge else "-", None),
        _row("distractor strategy", cfg.distractors.strategy, "trajectory_tiered"),
        _row("drop distractors containing the answer", cfg.distractors.remove_answer_docs, None),
        _row("context length L (tokens)", cfg.assembly.max_tokens, "131072 (~128K)",
             same=cfg.assembly.max_tokens == 131072),
        _row("tokenizer counting L", tokenizer_name or cfg.assembly.tokenizer or "bundled (SmolLM2-135M)", None),
        _row("what L counts", "the prompt with the tokenizer's chat template (as TRL/verl count it)", None),
        _row("padding when the tiers run short", cfg.assembly.fill, None),
    ]


def reward_rows(cfg: Any) -> list[dict[str, Any]]:
    """Rows of a ``RewardConfig``."""
    judge = cfg.outcome == "judge"
    outcome = "judge" if judge else f"rule ({cfg.rule})"
    prompt = "-"
    if judge:
        prompt = f"file {cfg.judge.prompt_file}" if cfg.judge.prompt_file else f"{cfg.judge.prompt} (our wording)"
    gate = cfg.format if cfg.format_gate else "off"
    return [
        _row("reward: outcome", outcome, "judge", same=judge),
        _row("reward: judge prompt", prompt, "released HLE-style yes/no prompt",
             same=judge and bool(cfg.judge.prompt_file)),
        _row("reward: judge tries", cfg.judge.tries if judge else "-", 3),
        _row("reward: format gate", gate, "released"),
        _row("reward: rubric matching", cfg.rubric_mode, "reference"),
        _row("reward: rubric matched on", "reasoning + final answer" if cfg.use_reasoning else "final answer",
             "final answer"),
        _row("reward: eta (rubric weight)", cfg.eta, 0.3),
        _row("reward: combination", cfg.strategy, "positive_only"),
        _row("reward: rubric / group max", cfg.normalize, True),
    ]


def grpo_rows(cfg: Any) -> list[dict[str, Any]]:
    """Rows of a ``PaperGRPOConfig``."""
    return [
        _row("GRPO: group size G", cfg.num_generations, 8),
        _row("GRPO: prompts per step", cfg.prompts_per_step, 16),
        _row("GRPO: steps", cfg.max_steps, 200),
        _row("GRPO: learning rate", f"{cfg.learning_rate:g} {cfg.lr_scheduler}", "2e-06 constant"),
        _row("GRPO: warmup steps", cfg.warmup_steps, None),
        _row("GRPO: weight decay", cfg.weight_decay, 0.1),
        _row("GRPO: Adam betas", f"({cfg.adam_beta1:g}, {cfg.adam_beta2:g})", "(0.9, 0.98)"),
        _row("GRPO: gradient clipping", cfg.max_grad_norm, None),
        _row("GRPO: clip low / high", f"{cfg.epsilon_low:g} / {cfg.epsilon_high:g}", "0.2 / 0.28"),
        _row("GRPO: loss aggregation", "token-level" if cfg.token_level_loss else "sequence-level", "token-level"),
        _row("GRPO: KL coefficient", cfg.beta, 0.0),
        _row("GRPO: entropy bonus", cfg.entropy_coef, 0.0),
        _row("GRPO: advantage epsilon", cfg.adv_epsilon, 1e-6),
        _row("GRPO: rollout temperature", cfg.temperature, 1.0),
        _row("GRPO: max prompt / response tokens", f"{cfg.max_prompt_length} / {cfg.max_completion_length}",
             "131072 / 32768"),
        _row("GRPO: importance correction", f"[{cfg.is_min:g}, {cfg.is_max:g}]" if cfg.is_correction else "off",
             "[0.5, 2]"),
    ]


def eval_rows(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows of eval sampling settings (a dict such as ``eval_settings("paper")``)."""
    return [
        _row("eval: temperature", settings.get("temperature"), 0.6),
        _row("eval: top-p", settings.get("top_p"), 0.95),
        _row("eval: top-k", settings.get("top_k"), 20),
        _row("eval: samples per prompt (AA-LCR)", settings.get("samples"), 4),
        _row("eval: max generated tokens", settings.get("max_tokens"), 32000),
        _row("eval: max context tokens", settings.get("max_context_tokens"), 160000),
    ]


def settings_table(*, build: Any = None, reward: Any = None, grpo: Any = None, eval: Mapping[str, Any] | None = None,
                   tokenizer_name: str | None = None) -> list[dict[str, Any]]:
    """The settings-vs-paper rows of whichever configs are given, in pipeline order.

    Each row is ``{"setting", "ours", "paper", "differs"}``; ``paper`` is ``"not stated in the paper"``
    where the paper is silent (then ``differs`` is False: there is nothing to differ from).
    """
    rows: list[dict[str, Any]] = []
    if build is not None:
        rows += build_rows(build, tokenizer_name)
    if reward is not None:
        rows += reward_rows(reward)
    if grpo is not None:
        rows += grpo_rows(grpo)
    if eval is not None:
        rows += eval_rows(eval)
    return rows


def table_markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a markdown table; a differing row is marked with "≠" (and a count above the table)."""
    n = sum(r["differs"] for r in rows)
    head = f"{n} of {len(rows)} settings differ from the paper (marked ≠)." if n else \
        f"None of {len(rows)} settings differs from the paper."
    lines = [head, "", "| | setting | ours | paper |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {'≠' if r['differs'] else ''} | {r['setting']} | {r['ours']} | {r['paper']} |")
    return "\n".join(lines) + "\n"


def print_table(rows: list[dict[str, Any]], title: str = "settings vs the paper", console: Any = None) -> None:
    """Print the rows with rich (to stderr by default), differing rows in yellow with a "≠" mark."""
    from rich.console import Console
    from rich.table import Table

    c = console or Console(stderr=True)
    n = sum(r["differs"] for r in rows)
    t = Table(title=f"{title} ({n} of {len(rows)} differ)", title_justify="left")
    for col in ("", "setting", "ours", "paper"):
        t.add_column(col)
    for r in rows:
        style = "yellow" if r["differs"] else ("dim" if r["paper"] == NOT_STATED else None)
        t.add_row("≠" if r["differs"] else "", r["setting"], r["ours"], r["paper"], style=style)
    c.print(t)
