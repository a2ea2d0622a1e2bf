"""Group combination of outcome and rubric rewards (PAPER.md 3).

The rubric term is paid only on correct answers by default ("positive-only"): a wrong answer that lists
the right entities earns nothing, so the policy cannot learn to list entities instead of answering.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

Strategy = Literal["positive_only", "all", "negative_only", "outcome_only", "longrlvr"]
STRATEGIES: tuple[str, ...] = ("positive_only", "all", "negative_only", "outcome_only", "longrlvr")


def normalize_group(rubrics: Sequence[float]) -> list[float]:
    """Divide each rubric score by the maximum over ALL responses of the group, when that max is > 0."""
    m = max(rubrics, default=0.0)
    return [r / m for r in rubrics] if m > 0 else [float(r) for r in rubrics]


def combine_one(outcome: float, rubric: float, *, eta: float = 0.3, strategy: Strategy = "positive_only") -> float:
    """Reward of one response from its outcome and its (already normalized) rubric score.

    - positive_only: 0 if wrong, else (1 - eta) * outcome + eta * rubric (the paper's method)
    - all: (1 - eta) * outcome + eta * rubric for every response (ablation)
    - negative_only: the rubric term only on wrong answers: correct -> outcome (1.0); wrong -> eta * rubric.
      Partial credit for wrong answers, never more than a correct one (ablation; the paper names the
      variant without its formula: this is our documented reading)
    - outcome_only: outcome (eta = 0)
    - longrlvr: r_ans + eta * F + (1 - eta) * r_ans * F, with F the rubric-like F-beta score (baseline)
    """
    if strategy == "positive_only":
        return 0.0 if outcome <= 0 else (1 - eta) * outcome + eta * rubric
    if strategy == "all":
        return (1 - eta) * outcome + eta * rubric
    if strategy == "negative_only":
        return outcome if outcome > 0 else eta * rubric
    if strategy == "outcome_only":
        return float(outcome)
    if strategy == "longrlvr":
        return outcome + eta * rubric + (1 - eta) * outcome * rubric
    raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")


def combine_group(
    outcomes: Sequence[float | None],
    rubrics: Sequence[float],
    *,
    eta: float = 0.3,
    strategy: Strategy = "positive_only",
    normalize: bool = True,
    f_beta: Sequence[float] | None = None,
) -> list[float | None]:
    """Rewards of the G responses to ONE prompt.

    ``rubrics`` are the raw rubric scores; with ``normalize`` they are divided by the group max first
    (the max over all G responses, correct or not). ``longrlvr`` uses ``f_beta`` (F-beta over cited chunk
    ids) when given, else the rubric scores, unnormalized as in that baseline.
    An outcome of ``None`` is an error state (the judge could not decide): that response is left out of the
    group (its rubric does not count towards the max) and its reward is ``None``, never an outcome of 0.
    Worked example (PAPER.md 3): correct, 4 of 5 entities, group max 1.0 -> 0.7 + 0.3 * 0.8 = 0.94.
    """
    if len(outcomes) != len(rubrics):
        raise ValueError(f"outcomes ({len(outcomes)}) and rubrics ({len(rubrics)}) differ in length")
    if f_beta is not None and len(f_beta) != len(outcomes):
        raise ValueError(f"f_beta ({len(f_beta)}) and outcomes ({len(outcomes)}) differ in length")
    ok = [i for i, o in enumerate(outcomes) if o is not None]
    out: list[float | None] = [None] * len(outcomes)
    oc = [float(outcomes[i]) for i in ok]  # type: ignore[arg-type]
    if strategy == "longrlvr":
        f = [float(f_beta[i]) if f_beta is not None else float(rubrics[i]) for i in ok]
        vals = [combine_one(o, x, eta=eta, strategy="longrlvr") for o, x in zip(oc, f, strict=True)]
    else:
        kept = [float(rubrics[i]) for i in ok]
        norm = normalize_group(kept) if normalize else kept
        vals = [combine_one(o, r, eta=eta, strategy=strategy) for o, r in zip(oc, norm, strict=True)]
    for i, v in zip(ok, vals, strict=True):
        out[i] = v
    return out
