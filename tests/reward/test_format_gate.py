"""The released format gate (``format: released``): each ill-formed case is paid 0, in the core, in the TRL,
verl, slime and OpenRLHF adapters (fed the way each framework feeds them, with the bundled model's real
tokenizer: ``<|im_end|>`` ends a turn, ``<|endoftext|>`` ends a document) and in the reward server."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from longtracerl.reward import LongTraceReward, RewardConfig
from longtracerl.reward.format import SPECIAL_TOKEN, check_format, strip_stop

GOLD, RUBRICS = "Paris", ["France", "Europe"]
GOOD = "<think>capital of France, in Europe</think>Paris, France, Europe"

# name -> (response text, stop token appended by the engine or None (no stop: truncated), expected gate)
CASES: dict[str, tuple[str, str | None, str | None]] = {
    "well_formed": (GOOD, "<|im_end|>", None),
    "no_think_close": ("Paris, France, Europe", "<|im_end|>", "no_think_close"),
    "multiple_think_close": ("<think>a</think>France</think>Paris, France, Europe", "<|im_end|>",
                             "multiple_think_close"),
    "end_of_text_stop": (GOOD, "<|endoftext|>", "end_of_text_stop"),
    "special_token_in_content": ("<think>x</think>Paris <|im_start|>assistant France, Europe", "<|im_end|>",
                                 "special_token"),
    "empty_answer": ("<think>Paris, France, Europe</think>", "<|im_end|>", "no_final_answer"),
    "truncated": (GOOD + " and more", None, "truncated"),
}
RELEASED = RewardConfig(format="released")


# ---------------------------------------------------------------------------- the rule itself


@pytest.mark.parametrize("name", list(CASES))
def test_core_released_gate_each_case(name: str) -> None:
    text, stop, want = CASES[name]
    reason, _ = check_format(text + (stop or ""), "released", truncated=stop is None)
    assert reason == want
    r = LongTraceReward(RELEASED).score_one(text + (stop or ""), GOLD, RUBRICS, truncated=stop is None)
    assert (r.reward == 0.0) == (want is not None)
    assert r.details.get("format_gate") == want


def test_released_gate_details() -> None:
    # a proper stop may be followed by padding (OpenRLHF pads Qwen responses with <|endoftext|>)
    assert check_format(GOOD + "<|im_end|><|endoftext|><|endoftext|>", "released") == (None, GOOD)
    assert check_format(GOOD + "\n<｜end▁of▁sentence｜>", "released") == (None, GOOD)  # DeepSeek form
    assert check_format(GOOD, "released") == (None, GOOD)  # stop token already trimmed by the engine
    assert strip_stop(GOOD + "<|im_start|>")[1] == "special_token"  # a run must start with an end of turn
    assert check_format("<think>a</think>Paris <｜Assistant｜> France", "released")[0] == "special_token"
    assert check_format("<think>a</think>Paris</s> France", "released")[0] == "special_token"
    # markup that is not a special token passes
    assert check_format("<think>a</think>Paris <b>x</b> a|b <| x |>", "released")[0] is None
    assert SPECIAL_TOKEN.findall("<|im_end|> <｜end▁of▁sentence｜> <pad> </s> <unk>") == \
        ["<|im_end|>", "<｜end▁of▁sentence｜>", "<pad>", "</s>", "<unk>"]
    with pytest.raises(ValueError, match="unknown format rule"):
        check_format(GOOD, "strict")  # type: ignore[arg-type]


def test_lenient_is_todays_behaviour() -> None:
    lenient = LongTraceReward(RewardConfig())
    assert RewardConfig().format == "lenient"
    # a reply without </think> is scored whole (the documented risk of lenient for thinking policies)
    r = lenient.score_one("Paris, France, Europe", GOLD, RUBRICS)
    assert r.reward > 0 and "format_gate" not in r.details
    assert lenient.score_one("<think>Paris France Europe", GOLD, RUBRICS).details["format_gate"] == "no_final_answer"
    assert lenient.score_one(GOOD, GOLD, RUBRICS, truncated=True).details["format_gate"] == "truncated"
    assert lenient.score_one("<think>a</think>Paris<|im_start|>x France", GOLD, RUBRICS).reward > 0
    assert LongTraceReward(RewardConfig(format="released", format_gate=False)).score_one(
        "Paris, France", GOLD, RUBRICS).reward > 0


def test_unknown_reward_keys_are_rejected() -> None:
    with pytest.raises(ValueError, match="formatt"):
        RewardConfig.model_validate({"formatt": "released"})
    with pytest.raises(ValueError, match="temperature"):
        RewardConfig.model_validate({"judge": {"temperature": 0}})


# ---------------------------------------------------------------------------- adapters


@pytest.fixture(scope="module")
def tok():  # type: ignore[no-untyped-def]
    from longtracerl.train.models import bundled_tokenizer

    t = bundled_tokenizer()
    assert t.convert_tokens_to_ids("<|im_end|>") != t.convert_tokens_to_ids("<|endoftext|>")
    return t


def _ids(tok: Any, text: str, stop: str | None, budget: int | None = None) -> list[int]:
    ids = tok(text, add_special_tokens=False)["input_ids"]  # special-token strings become their ids
    if stop is not None:
        ids = ids + [tok.convert_tokens_to_ids(stop)]
    return ids


def _eos(tok: Any) -> set[int]:  # as for Qwen3: generation stops on <|im_end|> or <|endoftext|>
    return {tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")}


def _expect(rewards: list[float]) -> None:
    names = list(CASES)
    for name, r in zip(names, rewards, strict=True):
        if CASES[name][2] is None:
            assert r > 0.9, name
        else:
            assert r == 0.0, name


def test_trl_adapter_applies_the_released_gate(tok: Any) -> None:
    from longtracerl.reward.adapters.trl import LongTraceTRLReward

    ids = [_ids(tok, t, s) for t, s, _ in CASES.values()]
    completions = [tok.decode(x, skip_special_tokens=True) for x in ids]  # what TRL passes as text
    n = len(ids)
    kw = {"prompts": ["p"] * n, "completions": completions, "completion_ids": ids, "label": [GOLD] * n,
          "rubrics": [RUBRICS] * n, "question": ["q"] * n}
    released = LongTraceTRLReward(RELEASED, num_generations=n, eos_token_ids=_eos(tok), tokenizer=tok)
    _expect(released(**kw))
    # lenient (today): the tokens TRL hid and the missing </think> go unnoticed
    lenient = LongTraceTRLReward(RewardConfig(), num_generations=n, eos_token_ids=_eos(tok), tokenizer=tok)
    got = dict(zip(CASES, lenient(**kw), strict=True))
    assert got["end_of_text_stop"] > 0 and got["special_token_in_content"] > 0 and got["no_think_close"] > 0
    assert got["truncated"] == 0.0 and got["empty_answer"] == 0.0


def test_verl_manager_applies_the_released_gate(tok: Any) -> None:
    pytest.importorskip("verl")
    import numpy as np
    import torch
    from omegaconf import OmegaConf
    from verl import DataProto

    from longtracerl.reward.adapters import verl as adapter

    P, R = 4, 40
    prompts, responses, masks = [], [], []
    for text, stop, _ in CASES.values():
        p = tok.encode("q?", add_special_tokens=False)[:P]
        r = _ids(tok, text, stop)
        if stop is None:  # truncated: fills the budget without a stop token
            r = (r * 4)[:R]
        assert len(r) <= R
        prompts.append([tok.pad_token_id] * (P - len(p)) + p)
        responses.append(r + [tok.pad_token_id] * (R - len(r)))
        masks.append([0] * (P - len(p)) + [1] * len(p) + [1] * len(r) + [0] * (R - len(r)))
    pt, rt, am = torch.tensor(prompts), torch.tensor(responses), torch.tensor(masks)
    n = len(CASES)
    data = DataProto.from_dict(
        tensors={"prompts": pt, "responses": rt, "input_ids": torch.cat([pt, rt], 1), "attention_mask": am,
                 "position_ids": (am.cumsum(-1) - 1).clamp(min=0), "response_mask": am[:, P:]},
        non_tensors={"uid": np.array(["a"] * n, dtype=object), "data_source": np.array(["longqa"] * n, dtype=object),
                     "reward_model": np.array([{"ground_truth": GOLD, "style": "rule"}] * n, dtype=object),
                     "extra_info": np.array([{"question": "q?", "rubrics": RUBRICS}] * n, dtype=object)})
    config = OmegaConf.create({"reward": {"reward_kwargs": {"longtrace": {"format": "released"}}}})
    manager = adapter.LongTraceRewardManager(config=config, tokenizer=tok, compute_score=None)
    manager.eos_token_ids = _eos(tok)

    async def run() -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(manager.run_single(data[i : i + 1]) for i in range(n))))

    out = run_sync(run())
    gates = [o["reward_extra_info"]["format_gate"] or None for o in out]
    assert gates == [want for _, _, want in CASES.values()]
    _expect([1.0 if o["reward_extra_info"]["outcome"] else 0.0 for o in out])


def run_sync(coro: Any) -> Any:
    return asyncio.run(coro)


class _Status:
    def __init__(self, value: str) -> None:
        self.value = value


class SlimeSample:  # the fields of slime.utils.types.Sample the adapter reads
    def __init__(self, response: str, truncated: bool, stop: str | None) -> None:
        self.response = response
        self.label = GOLD
        self.status = _Status("truncated" if truncated else "completed")
        self.metadata: dict[str, Any] = {"extra_reward_info": {"question": "q", "rubrics": RUBRICS}}
        if stop is not None:
            self.metadata["stop_token"] = stop
        self.reward: Any = None
        self.group_index = 0


def test_slime_adapter_applies_the_released_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from argparse import Namespace

    from longtracerl.reward.adapters import slime

    cfg = tmp_path / "reward.yaml"
    cfg.write_text("format: released\n")
    monkeypatch.setenv("LONGTRACERL_REWARD_CONFIG", str(cfg))
    args = Namespace(n_samples_per_prompt=len(CASES), advantage_estimator="grpo")
    # slime keeps special tokens in the text (default: no --rollout-skip-special-tokens); the engine trims
    # the stop token, which the rollout records in metadata
    samples = [SlimeSample(t, s is None, s) for t, s, _ in CASES.values()]
    per = [asyncio.run(slime.reward_func(args, s)) for s in samples]
    _expect([p["reward"] for p in per])
    assert [p["outcome_reward"] for p in per] == [1.0] + [0.0] * (len(CASES) - 1)
    group = asyncio.run(slime.group_reward_func(args, samples))
    _expect(group)


def test_openrlhf_adapter_applies_the_released_gate(tok: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "openrlhf_reward.py"
    spec = importlib.util.spec_from_file_location("reward_func", str(example))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cfg = tmp_path / "reward.yaml"
    cfg.write_text("format: released\n")
    monkeypatch.setenv("LONGTRACERL_REWARD_CONFIG", str(cfg))
    prompt = tok.apply_chat_template([{"role": "user", "content": "Which city?"}], tokenize=False,
                                     add_generation_prompt=True)
    pids = tok(prompt, add_special_tokens=False)["input_ids"]
    pad = tok.convert_tokens_to_ids("<|endoftext|>")
    queries = []
    for text, stop, _ in CASES.values():  # OpenRLHF: decode(prompt + action + right padding), specials kept
        queries.append(tok.decode(pids + _ids(tok, text, stop) + [pad, pad], skip_special_tokens=False))
    label = json.dumps({"answer": GOLD, "rubrics": RUBRICS, "question": "Which city?"})
    out = module.reward_func(queries, [prompt] * len(queries), [label] * len(queries))
    _expect(out["rewards"].tolist())


def test_server_applies_the_released_gate_under_the_paper_preset(fault_llm: Any) -> None:
    """The paper preset's judge is a SCRIPTED stub here (it always answers "correct: yes"), a behaviour the
    bundled model cannot be made to produce reliably; only the form of each response decides."""
    import subprocess
    import sys

    import httpx

    from longtracerl.netutil import free_port, wait_http

    url, script = fault_llm
    script.default = ("ok", "extracted_final_answer: Paris\nreasoning: same city\n**Correct:** Yes")
    # the paper preset without a judge endpoint fails at once, naming the flag
    r = subprocess.run([sys.executable, "-m", "longtracerl.cli", "serve-reward", "--preset", "paper"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--judge-base-url" in r.stderr
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "longtracerl.cli", "serve-reward", "--preset", "paper",
                             "--port", str(port), "--judge-base-url", url, "--judge-model", "m"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=60, proc=proc)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            health = c.get("/health").json()
            assert health["format"] == "released" and health["outcome"] == "judge" and health["preset"] == "paper"
            info = {"question": "Which city?", "rubrics": RUBRICS, "rubric_reward_ratio": 0.3}
            for name, (text, stop, want) in CASES.items():
                body = c.post("/evaluate", json={"label": GOLD, "response": text + (stop or ""),
                                                 "truncated": stop is None, "extra_reward_info": info}).json()
                assert body["format_gate"] == want, name
                assert (body["reward"] > 0.9) == (want is None), name
            g = c.post("/evaluate_group", json={"label": GOLD, "extra_reward_info": info,
                                                "responses": [t + (s or "") for t, s, _ in CASES.values()],
                                                "truncated": [s is None for _, s, _ in CASES.values()]}).json()
            assert g["format_gates"] == [w for _, _, w in CASES.values()]
            _expect(g["rewards"])
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert "settings vs the paper" in out and "reward: format gate" in out
