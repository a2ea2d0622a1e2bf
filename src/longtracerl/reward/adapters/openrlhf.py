"""OpenRLHF adapter: ``reward_func(queries, prompts, labels)`` for ``--reward.remote_url reward.py`` (``--remote_rm_url`` before 0.10.2).

OpenRLHF loads ``reward_func`` from a Python file and calls it with ``queries`` (prompt + response, decoded
with special tokens), ``prompts`` (the templated prompts) and ``labels`` (the ``--data.label_key`` column). It
passes nothing else, so the label carries the rubrics:

- a JSON string ``{"answer": "...", "rubrics": ["entity", ...], "question": "...", "rubric_aliases":
  {"entity": ["other name", ...]}}`` (what ``longtracerl`` exports for OpenRLHF), or
- a plain answer string: no rubrics, so the reward is the outcome alone.

Groups: the group step needs all G responses of a prompt in one call. Consecutive queries with the same
prompt form a group; set ``$LONGTRACERL_GROUP_SIZE`` to G to check it. Recent OpenRLHF versions call the
function one sample at a time (single-turn agent executor): a group smaller than G cannot be normalized,
so its rubric is used raw (positive-only still applies) and a warning says so once.

Released format gate: OpenRLHF decodes queries with special tokens, so with ``format: released`` the
response keeps its stop token and padding, and the gate reads them (a stop on ``<|endoftext|>``, special
tokens left inside); ``lenient`` strips the usual end/pad markers first, as before.

``reward_func`` returns the dict recent OpenRLHF expects (``rewards``, ``scores``, ``extra_logs``);
``reward_func_tensor`` returns the bare tensor that older versions expect.

A failed judge is an error state, never an outcome: that response's ``rewards`` and ``scores`` are NaN.
OpenRLHF (0.11.2) has no per-sample mask, but its dynamic filtering drops a prompt's whole group when the
group's mean score is outside ``--algo.dynamic_filtering_range``, which a NaN mean always is, and draws a
replacement prompt. So train with ``--algo.dynamic_filtering_enable`` (``--algo.dynamic_filtering_range
-0.01 1.01`` keeps every decided group; the default (0, 1) also drops all-0 and all-1 groups, DAPO-style).
Without it a NaN reward reaches the loss and the step fails loudly, rather than learning from a made-up 0.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from typing import Any

import torch

from longtracerl.reward.adapters._common import as_str_list, get_reward, info_aliases

log = logging.getLogger(__name__)

GROUP_SIZE_ENV = "LONGTRACERL_GROUP_SIZE"
#: Text of common end-of-turn / padding tokens, dropped from the end of a response decoded with special tokens.
END_MARKERS = ("<|im_end|>", "<|endoftext|>", "</s>", "<|eot_id|>", "<|end_of_text|>", "<｜end▁of▁sentence｜>", "<pad>")
_warned = False
_NAN = float("nan")


def parse_label(label: Any) -> tuple[str, list[str], str]:
    """(answer, rubrics, question) from a JSON label or a plain answer."""
    if isinstance(label, dict):
        data = label
    else:
        text = "" if label is None else str(label)
        s = text.strip()
        if not s.startswith("{"):
            return text, [], ""
        try:
            data = json.loads(s)
        except json.JSONDecodeError:
            return text, [], ""
        if not isinstance(data, dict):
            return text, [], ""
    if "answer" not in data and "label" not in data:
        raise ValueError(f"JSON label has no 'answer' field: {str(label)[:120]!r}")
    answer = data.get("answer", data.get("label"))
    return str(answer), as_str_list(data.get("rubrics"), "label.rubrics"), str(data.get("question") or "")


def label_aliases(label: Any) -> dict[str, list[str]] | None:
    """``rubric_aliases`` of a JSON label (None for a plain answer)."""
    data = label
    if not isinstance(label, dict):
        s = "" if label is None else str(label).strip()
        if not s.startswith("{"):
            return None
        try:
            data = json.loads(s)
        except json.JSONDecodeError:
            return None
    return info_aliases(data)


def extract_response(query: str, prompt: str, *, keep_stop: bool = False) -> str:
    """The response part of ``query``: what follows the prompt, without trailing end/pad tokens
    (``keep_stop``: kept, for the released format gate, which reads and removes them itself)."""
    pos = query.find(prompt) if prompt else -1
    resp = query[pos + len(prompt) :] if pos >= 0 else query
    if keep_stop:
        return resp
    changed = True
    while changed:
        changed = False
        stripped = resp.rstrip()
        for m in END_MARKERS:
            if stripped.endswith(m):
                resp, changed = stripped[: -len(m)], True
    return resp.strip()


def _runs(prompts: Sequence[str]) -> list[list[int]]:
    runs: list[list[int]] = []
    for i, p in enumerate(prompts):
        if runs and prompts[runs[-1][0]] == p:
            runs[-1].append(i)
        else:
            runs.append([i])
    g = int(os.environ.get(GROUP_SIZE_ENV, "0") or 0)
    if g <= 0:
        return runs
    out: list[list[int]] = []
    for run in runs:
        if len(run) > g and len(run) % g:
            raise ValueError(f"{len(run)} consecutive responses to one prompt is not a multiple of {GROUP_SIZE_ENV}={g}")
        out.extend(run[i : i + g] for i in range(0, len(run), g))
    return out


def _score(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any]) -> tuple[list[float], list[float], list[float]]:
    global _warned
    if not len(queries) == len(prompts) == len(labels):
        raise ValueError(f"{len(queries)} queries, {len(prompts)} prompts, {len(labels)} labels: lengths differ")
    reward = get_reward()
    g = int(os.environ.get(GROUP_SIZE_ENV, "0") or 0)
    rewards = [0.0] * len(queries)
    outcomes = [0.0] * len(queries)
    rubrics = [0.0] * len(queries)
    for rows in _runs(list(prompts)):
        answer, entities, question = parse_label(labels[rows[0]])
        aliases = label_aliases(labels[rows[0]])
        keep = reward.config.format == "released"
        responses = [extract_response(queries[i], prompts[i], keep_stop=keep) for i in rows]
        partial = len(rows) == 1 or (g > 0 and len(rows) < g)
        scorer = reward
        if not entities:  # a plain-answer label: the outcome reward alone
            scorer = get_reward(reward.config.model_copy(update={"strategy": "outcome_only"}))
        elif partial and reward.config.normalize:
            if not _warned:
                log.warning(
                    "LongTraceRL: OpenRLHF passed %d response(s) of a prompt in one call; the rubric is not "
                    "group-normalized for such partial groups (pass whole groups for the exact reward)", len(rows)
                )
                _warned = True
            scorer = get_reward(reward.config.model_copy(update={"normalize": False}))
        results = scorer.score_group(responses, answer, entities, question=question, aliases=aliases)
        for i, r in zip(rows, results, strict=True):
            if r.error is not None:  # an error state: NaN, which OpenRLHF's dynamic filtering drops (module doc)
                rewards[i], outcomes[i], rubrics[i] = _NAN, _NAN, float(r.rubric_raw)
                continue
            rewards[i], outcomes[i], rubrics[i] = float(r.reward or 0.0), float(r.outcome or 0.0), float(r.rubric_raw)
    return rewards, outcomes, rubrics


def reward_func(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any], **kwargs: Any) -> dict[str, Any]:
    """OpenRLHF custom reward: ``{"rewards", "scores", "extra_logs"}`` (tensors, one value per query)."""
    rewards, outcomes, rubrics = _score(queries, prompts, labels)
    t = torch.tensor(rewards, dtype=torch.float32)
    return {
        "rewards": t,
        "scores": t.clone(),
        "extra_logs": {
            "longtrace_outcome": torch.tensor(outcomes, dtype=torch.float32),
            "longtrace_rubric": torch.tensor(rubrics, dtype=torch.float32),
        },
    }


def reward_func_tensor(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any], **kwargs: Any) -> torch.Tensor:
    """The same rewards as a bare tensor (OpenRLHF versions before the dict return)."""
    return torch.tensor(_score(queries, prompts, labels)[0], dtype=torch.float32)
