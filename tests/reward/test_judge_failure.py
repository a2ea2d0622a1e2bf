"""A failed judge is an error state, never an outcome: the core, every adapter, the server and the build.

The judge endpoint is a FAKE OpenAI-compatible HTTP server (``fake_chat_servers``), for fault injection only:
it answers HTTP 500 whenever the judged answer mentions "Marseille" (the real bundled model cannot be made to
fail on request), and otherwise a verdict ``correct: yes`` when the judged answer starts with the gold
"Lyon", else ``correct: no``. Everything else (judge client, reward core, adapters, server) is real.

The group used throughout, with rubrics Paris, France, Lyon, Rhone (word mode):

- r0 "Lyon via Paris": judged correct, rubric 2/4 = 0.5
- r1 "Marseille, then Lyon, Paris, France and the Rhone": the judge FAILS; rubric 4/4 = 1.0
- r2 "Lyon": judged correct, rubric 1/4 = 0.25

Left out of the group, r1 no longer sets the group max (1.0); the max over r0 and r2 is 0.5, so by hand
(eta 0.3, positive-only): r0 = 0.7 + 0.3 * 0.5 / 0.5 = 1.0, r2 = 0.7 + 0.3 * 0.25 / 0.5 = 0.85, r1 = None.
(Counting r1 would have given 0.85 and 0.775.)
"""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
from argparse import Namespace
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch
import yaml
from fastapi import Response
from fastapi.responses import JSONResponse

from longtracerl.netutil import free_port, wait_http
from longtracerl.reward import LongTraceReward, RewardConfig
from longtracerl.reward.adapters._common import CONFIG_ENV

RUBRICS = ["Paris", "France", "Lyon", "Rhone"]
GROUP = ["Lyon via Paris", "Marseille, then Lyon, Paris, France and the Rhone", "Lyon"]
R0, R2 = 1.0, 0.85
INV_SQRT2 = 1 / math.sqrt(2)  # GRPO advantage of two rewards a > b: +-(a-b)/2 / ((a-b)/sqrt(2))


@pytest.fixture()
def judge_url(fake_chat_servers: Any) -> str:
    """FAULT INJECTION: a judge endpoint that returns 500 for any answer mentioning Marseille."""
    completion = fake_chat_servers.completion

    async def reply(body: dict[str, Any]) -> Response:
        prompt = body["messages"][-1]["content"]
        answer = prompt.split("[response]:", 1)[1].split("[correct_answer]:", 1)[0].strip()
        if "Marseille" in answer:
            return JSONResponse({"error": {"message": "injected 500"}}, status_code=500)
        return JSONResponse(completion(f"extracted_final_answer: {answer}\ncorrect: "
                                       f"{'yes' if answer.startswith('Lyon') else 'no'}"))

    return str(fake_chat_servers.start(reply))


def _config(url: str) -> dict[str, Any]:
    # one try, no transport retries: the failure surfaces at once (the defaults retry 3 x 4 times)
    return {"outcome": "judge", "judge": {"base_url": url, "model": "judge", "tries": 1, "max_retries": 0,
                                          "cache": False, "timeout": 10}}


def _config_file(tmp_path: Path, url: str) -> Path:
    p = tmp_path / "reward.yaml"
    p.write_text(yaml.safe_dump(_config(url)))
    return p


def test_core_group_leaves_the_failed_item_out(judge_url: str) -> None:
    res = LongTraceReward(RewardConfig.model_validate(_config(judge_url))).score_group(GROUP, "Lyon", RUBRICS)
    assert [r.reward for r in res] == [pytest.approx(R0), None, pytest.approx(R2)]
    failed = res[1]
    assert failed.outcome is None and failed.rubric_normalized is None
    assert failed.error and "judge call failed" in failed.error
    assert failed.rubric_raw == 1.0  # still measured, just not used
    assert res[0].details["group_max_rubric"] == 0.5 and res[0].rubric_normalized == 1.0
    one = LongTraceReward(RewardConfig.model_validate(_config(judge_url))).score_one(GROUP[1], "Lyon", RUBRICS)
    assert one.reward is None and one.outcome is None and one.error


def test_trl_adapter_returns_none_for_the_failed_item(judge_url: str) -> None:
    from longtracerl.reward.adapters.trl import LongTraceTRLReward

    fn = LongTraceTRLReward(_config(judge_url), num_generations=3)
    metrics: dict[str, float] = {}
    out = fn(["q"] * 3, GROUP, label=["Lyon"] * 3, rubrics=[RUBRICS] * 3,
             log_metric=lambda k, v: metrics.__setitem__(k, v))
    assert out == [pytest.approx(R0), None, pytest.approx(R2)]
    assert metrics["longtrace/judge_errors"] == 1.0 and metrics["longtrace/outcome_mean"] == 1.0


def test_verl_compute_score_and_estimator_mask_the_failed_item(judge_url: str) -> None:
    from longtracerl.reward.adapters.verl import JUDGE_ERROR, compute_score, encode
    from longtracerl.reward.adapters.verl_advantage import compute_longtrace_grpo_advantage

    scores = [compute_score("longqa", r, "Lyon", {"rubrics": RUBRICS}, reward_config=_config(judge_url))
              for r in GROUP]
    assert [s["score"] for s in scores] == [encode(1.0, 0.5), JUDGE_ERROR, encode(1.0, 0.25)]
    assert scores[1]["outcome_error"] and not scores[0]["outcome_error"]
    # a batch: group a = the three above, group b = a wrong and a correct answer without rubric
    vals = [s["score"] for s in scores] + [encode(0.0, 0.0), encode(1.0, 0.0)]
    index = ["a", "a", "a", "b", "b"]
    mask = torch.ones(5, 4)
    tlr = torch.zeros(5, 4)
    tlr[:, -1] = torch.tensor(vals)
    adv, ret = compute_longtrace_grpo_advantage(tlr, mask, index)
    per = adv[:, 0].tolist()
    # group a without the failed item: rewards [1.0, 0.85] -> +-1/sqrt(2); the failed item moves nothing
    assert per == pytest.approx([INV_SQRT2, 0.0, -INV_SQRT2, -INV_SQRT2, INV_SQRT2], abs=1e-4)
    assert torch.all(adv[1] == 0) and torch.all(ret[1] == 0)


@dataclass
class Sample:  # the attributes of slime.utils.types.Sample the reward path reads (see test_adapters_slime.py)
    group_index: int | None = None
    index: int | None = None
    response: str = ""
    response_length: int = 0
    label: str | None = None
    reward: float | dict[str, Any] | None = None
    loss_mask: list[int] | None = None
    remove_sample: bool = False
    status: str = "completed"
    metadata: dict = field(default_factory=dict)


def _samples() -> list[Sample]:
    return [Sample(group_index=0, index=i, response=r, response_length=5, label="Lyon",
                   metadata={"extra_reward_info": {"rubrics": RUBRICS}}) for i, r in enumerate(GROUP)]


def test_slime_adapter_masks_the_failed_sample(judge_url: str, tmp_path: Path) -> None:
    from longtracerl.reward.adapters.slime import group_reward_func, post_process_rewards, reward_func

    args = Namespace(longtrace_reward_config=str(_config_file(tmp_path, judge_url)), n_samples_per_prompt=3,
                     advantage_estimator="grpo", rewards_normalization=True, grpo_std_normalization=True)
    samples = _samples()
    for s in samples:
        s.reward = asyncio.run(reward_func(args, s))
    assert samples[1].reward["judge_error"] and math.isnan(samples[1].reward["reward"])  # type: ignore[index]
    assert samples[0].reward == {"reward": pytest.approx(0.7 + 0.3 * 0.5), "outcome_reward": 1.0,
                                 "rubric_reward": 0.5}  # per request: raw rubric, server eta
    raw, adv = post_process_rewards(args, samples)
    assert raw == pytest.approx([R0, 0.0, R2])
    assert adv == pytest.approx([INV_SQRT2, 0.0, -INV_SQRT2], abs=1e-4)
    assert samples[1].remove_sample and samples[1].loss_mask == [0] * 5
    assert not samples[0].remove_sample and samples[0].loss_mask is None
    group = _samples()
    out = asyncio.run(group_reward_func(args, group))
    assert out == pytest.approx([R0, (R0 + R2) / 2, R2])  # the mean: slime's group mean is unchanged
    assert group[1].remove_sample and group[1].loss_mask == [0] * 5 and not group[2].remove_sample


def test_openrlhf_adapter_gives_nan_for_dynamic_filtering(judge_url: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from longtracerl.reward.adapters.openrlhf import reward_func

    monkeypatch.setenv(CONFIG_ENV, str(_config_file(tmp_path, judge_url)))
    label = json.dumps({"answer": "Lyon", "rubrics": RUBRICS})
    out = reward_func([f"PROMPT {r}" for r in GROUP], ["PROMPT "] * 3, [label] * 3)
    rewards = out["rewards"].tolist()
    assert rewards[0] == pytest.approx(R0) and rewards[2] == pytest.approx(R2) and math.isnan(rewards[1])
    assert math.isnan(out["scores"][1].item())
    # OpenRLHF 0.11.2 keeps a group when min < mean(scores) < max: a NaN mean never is, so the group is dropped
    mean = sum(out["scores"].tolist()) / 3
    assert not (-0.01 < mean < 1.01)


def test_serve_reward_answers_503_with_the_reason(judge_url: str, tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "longtracerl.cli", "serve-reward", "--port", str(port),
                             "--config", str(_config_file(tmp_path, judge_url))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health", timeout=60, proc=proc)
        info = {"rubrics": RUBRICS}
        bad = httpx.post(f"{base}/evaluate", json={"label": "Lyon", "response": GROUP[1], "extra_reward_info": info})
        assert bad.status_code == 503 and "judge call failed" in bad.json()["detail"], bad.text
        assert bad.headers.get("retry-after")
        ok = httpx.post(f"{base}/evaluate", json={"label": "Lyon", "response": GROUP[0], "extra_reward_info": info})
        assert ok.status_code == 200 and ok.json()["reward"] == pytest.approx(0.7 + 0.3 * 0.5)
        grp = httpx.post(f"{base}/evaluate_group", json={"label": "Lyon", "responses": GROUP, "extra_reward_info": info})
        assert grp.status_code == 503 and grp.json()["errors"][1] and grp.json()["errors"][0] is None
        grp_ok = httpx.post(f"{base}/evaluate_group", json={"label": "Lyon", "responses": [GROUP[0], GROUP[2]],
                                                            "extra_reward_info": info})
        assert grp_ok.json()["rewards"] == pytest.approx([R0, R2])
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_build_solve_filter_never_counts_an_undecided_attempt_as_wrong(fake_chat_servers: Any, tmp_path: Path
                                                                      ) -> None:
    """The agent stage with the real judge scorer: attempt 1 is judged wrong, attempt 2 gets a 500 (FAULT
    INJECTION). The question may have been solved, so it is rejected as ``scorer_error``, not ``unsolved``."""
    from longtracerl.corpus.docstore import DocStore
    from longtracerl.corpus.sample_world import ensure_sample_world
    from longtracerl.corpus.search import TantivySearch
    from longtracerl.io import read_records
    from longtracerl.records import Question, Rejection, WriterInfo
    from longtracerl.reward import get_outcome_scorer
    from longtracerl.synth.agent import ChainGuidedAgent, collect_trajectories

    calls = {"n": 0}

    async def reply(body: dict[str, Any]) -> Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return JSONResponse(fake_chat_servers.completion("correct: no"))
        return JSONResponse({"error": {"message": "injected 500"}}, status_code=500)

    url = fake_chat_servers.start(reply)
    w = ensure_sample_world(progress=False)
    store = DocStore.open(w.docstore_dir)
    try:
        agent = ChainGuidedAgent(TantivySearch.load(w.index_dir, store), None, seed=0)
        scorer = get_outcome_scorer("judge", base_url=url, model="judge", tries=1, max_retries=0, use_cache=False)
        q = Question(question_id="q1", chain_id="c1", question="What is the capital of France?", answer="Paris",
                     gold_entities=["France"], gold_doc_ids=["wfb-fr"], writer=WriterInfo(backend="test"))
        st = asyncio.run(collect_trajectories([q], agent, scorer, tmp_path / "t.jsonl", tmp_path / "r.jsonl",
                                              attempts=2, concurrency=1, progress=False))
    finally:
        store.close()
    assert st.solved == 0 and calls["n"] == 2
    (rej,) = read_records(tmp_path / "r.jsonl", Rejection)
    assert rej.reason == "scorer_error" and "judge undecided on 1 of 2" in (rej.detail or "")


def test_verl_reward_manager_masks_or_refuses(judge_url: str) -> None:
    """verl's reward manager with the failing judge: under longtrace_grpo the failed response gets JUDGE_ERROR
    (which the estimator masks, above); under plain grpo, which would read any number as a reward, it raises."""
    import numpy as np
    from omegaconf import OmegaConf
    from verl import DataProto

    from longtracerl.reward.adapters.verl import JUDGE_ERROR, LongTraceRewardManager, encode
    from longtracerl.train.models import bundled_tokenizer

    tok = bundled_tokenizer()
    p_len, r_len = 6, 24
    rows = []
    for text in (GROUP[0], GROUP[1]):
        p = tok.encode("Which city?", add_special_tokens=False)[:p_len]
        r = (tok.encode(text, add_special_tokens=False) + [tok.eos_token_id])[:r_len]
        rows.append(([tok.pad_token_id] * (p_len - len(p)) + p, r + [tok.pad_token_id] * (r_len - len(r)),
                     [0] * (p_len - len(p)) + [1] * len(p) + [1] * len(r) + [0] * (r_len - len(r))))
    prompts, responses = torch.tensor([a for a, _, _ in rows]), torch.tensor([b for _, b, _ in rows])
    mask = torch.tensor([c for _, _, c in rows])
    data = DataProto.from_dict(
        tensors={"prompts": prompts, "responses": responses, "input_ids": torch.cat([prompts, responses], dim=1),
                 "attention_mask": mask, "response_mask": mask[:, p_len:]},
        non_tensors={"uid": np.array(["a", "a"], dtype=object),
                     "reward_model": np.array([{"ground_truth": "Lyon"}] * 2, dtype=object),
                     "extra_info": np.array([{"rubrics": RUBRICS}] * 2, dtype=object)})

    def manager(estimator: str) -> Any:
        cfg = OmegaConf.create({"reward": {"reward_kwargs": {"longtrace": _config(judge_url)}},
                                "algorithm": {"adv_estimator": estimator}})
        m = LongTraceRewardManager(config=cfg, tokenizer=tok, compute_score=None)
        m.loop.close()  # verl's base class makes a loop the manager never uses
        return m

    masked = manager("longtrace_grpo")
    ok = asyncio.run(masked.run_single(data[0:1]))
    failed = asyncio.run(masked.run_single(data[1:2]))
    assert ok["reward_score"] == pytest.approx(encode(1.0, 0.5))
    assert failed["reward_score"] == JUDGE_ERROR and "judge call failed" in failed["reward_extra_info"]["outcome_error"]
    with pytest.raises(RuntimeError, match="cannot mask"):
        asyncio.run(manager("grpo").run_single(data[1:2]))
