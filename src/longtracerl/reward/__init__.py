"""The LongTraceRL reward (PAPER.md 3): rubric r_rb, outcome r_oc, positive-only group combination.

Adapters for TRL / verl / slime / OpenRLHF live in ``reward.adapters``; the HTTP server in ``reward.server``.
"""

from longtracerl.reward.combine import STRATEGIES, combine_group, combine_one, normalize_group
from longtracerl.reward.core import JudgeSettings, LongTraceReward, RewardConfig, run_sync
from longtracerl.reward.judge import JudgeCache, LLMJudge, make_judge, parse_verdict
from longtracerl.reward.outcome import (
    ChoiceLetter,
    Contains,
    ExactMatch,
    TokenF1,
    extract_choice,
    get_outcome_scorer,
    normalize_answer,
    register_outcome_scorer,
    token_f1,
)
from longtracerl.reward.outcome_base import OutcomeResult, OutcomeScorer
from longtracerl.reward.rubric import RubricScore, normalize_reference, normalize_word, rubric_score
from longtracerl.think import split_think

__all__ = [
    "STRATEGIES",
    "ChoiceLetter",
    "Contains",
    "ExactMatch",
    "JudgeCache",
    "JudgeSettings",
    "LLMJudge",
    "LongTraceReward",
    "OutcomeResult",
    "OutcomeScorer",
    "RewardConfig",
    "RubricScore",
    "TokenF1",
    "combine_group",
    "combine_one",
    "extract_choice",
    "get_outcome_scorer",
    "make_judge",
    "normalize_answer",
    "normalize_group",
    "normalize_reference",
    "normalize_word",
    "parse_verdict",
    "register_outcome_scorer",
    "rubric_score",
    "run_sync",
    "split_think",
    "token_f1",
]
